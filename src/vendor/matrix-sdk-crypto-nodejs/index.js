'use strict';
// matrix-bot-sdk requires this module at import time; it is only used when a
// crypto store is configured, which kernel-status-bot never does.
const MESSAGE = 'end-to-end encryption is not available in this build of kernel-status-bot';

class Unsupported {
  constructor() {
    throw new Error(MESSAGE);
  }
  static initialize() {
    throw new Error(MESSAGE);
  }
}

class OlmMachine extends Unsupported {}
class UserId extends Unsupported {}
class DeviceId extends Unsupported {}
class RoomId extends Unsupported {}
class DeviceLists extends Unsupported {}
class EncryptionSettings extends Unsupported {}
class Attachment extends Unsupported {
  static encrypt() { throw new Error(MESSAGE); }
  static decrypt() { throw new Error(MESSAGE); }
}
class EncryptedAttachment extends Unsupported {}

const StoreType = Object.freeze({ Sled: 0, Sqlite: 1 });

module.exports = {
  OlmMachine, UserId, DeviceId, RoomId, DeviceLists, EncryptionSettings,
  Attachment, EncryptedAttachment, StoreType, E2EE_UNAVAILABLE: MESSAGE,
};
