'use strict';
// The names matrix-bot-sdk 0.8 uses from the native binding, on top of the same Rust crate compiled to
// WebAssembly. The wasm machine keeps its state in IndexedDB (`globalThis.indexedDB`): the caller installs
// one before OlmMachine.initialize (kernel-status-bot: src/adapters/matrix/crypto-store.ts).
const wasm = require('@matrix-org/matrix-sdk-crypto-wasm');

// The wasm side takes ownership of the UserIds in an array argument; the SDK reuses its arrays.
const copies = (users) => users.map((u) => new wasm.UserId(u.toString()));
const untrusted = () => new wasm.DecryptionSettings(wasm.TrustRequirement.Untrusted);

// To-device requests: the SDK reads txn_id/event_type from the body (outgoingRequests) or as camelCase
// properties (shareRoomKey); the wasm request has them as separate snake_case properties.
function toDevice(r) {
  const body = JSON.stringify({ ...JSON.parse(r.body), txn_id: r.txn_id, event_type: r.event_type });
  return { id: r.id, type: r.type, txnId: r.txn_id, eventType: r.event_type, body };
}

class OlmMachine {
  constructor(inner) {
    this.inner = inner;
    this.lastSync = '';
    this.lastSyncAt = 0;
  }
  /** `storePath` becomes the IndexedDB name; the passphrase is not used (the store lives under DATA_DIR). */
  static async initialize(userId, deviceId, storePath) {
    return new OlmMachine(await wasm.OlmMachine.initialize(userId, deviceId, storePath));
  }
  get identityKeys() { return this.inner.identityKeys; }
  async outgoingRequests() {
    return (await this.inner.outgoingRequests()).map((r) => (r.type === wasm.RequestType.ToDevice ? toDevice(r) : r));
  }
  markRequestAsSent(id, type, response) { return this.inner.markRequestAsSent(id, type, response); }
  updateTrackedUsers(users) { return this.inner.updateTrackedUsers(copies(users)); }
  getMissingSessions(users) { return this.inner.getMissingSessions(copies(users)); }
  async shareRoomKey(roomId, users, settings) {
    return (await this.inner.shareRoomKey(roomId, copies(users), settings)).map(toDevice);
  }
  encryptRoomEvent(roomId, type, content) { return this.inner.encryptRoomEvent(roomId, type, content); }
  decryptRoomEvent(event, roomId) { return this.inner.decryptRoomEvent(event, roomId, untrusted()); }
  /**
   * Returns the processed to-device events as a JSON array string, as the native binding does. A sync
   * that brings nothing new (no to-device events or device-list changes, the same key counts as the last
   * one) is not handed to the machine again, at least once a minute.
   */
  async receiveSyncChanges(toDevice, lists, otkCounts, fallbackAlgs) {
    const counts = new Map(Object.entries(otkCounts ?? {}));
    const fallback = new Set(fallbackAlgs ?? []);
    const same = JSON.stringify([[...counts].sort(), [...fallback].sort()]);
    const idle = toDevice === '[]' && lists.isEmpty();
    if (idle && same === this.lastSync && Date.now() - this.lastSyncAt < 60_000) return '[]';
    const out = await this.inner.receiveSyncChanges(toDevice, lists, counts, fallback, untrusted());
    this.lastSync = same;
    this.lastSyncAt = Date.now();
    return JSON.stringify(out.filter((e) => e instanceof wasm.DecryptedToDeviceEvent).map((e) => JSON.parse(e.rawEvent)));
  }
  /** Signatures whose `get` returns a plain object, as the SDK iterates it with Object.entries. */
  async sign(message) {
    const sigs = await this.inner.sign(message);
    return { get: (user) => Object.fromEntries(sigs.get(user) ?? new Map()) };
  }
  close() { this.inner.close(); }
}

class DeviceLists extends wasm.DeviceLists {
  constructor(changed = [], left = []) {
    super(copies(changed), copies(left));
  }
}

const StoreType = Object.freeze({ Sled: 0, Sqlite: 1 });

module.exports = {
  OlmMachine, DeviceLists, StoreType,
  UserId: wasm.UserId, DeviceId: wasm.DeviceId, RoomId: wasm.RoomId,
  EncryptionSettings: wasm.EncryptionSettings, Attachment: wasm.Attachment, EncryptedAttachment: wasm.EncryptedAttachment,
};
