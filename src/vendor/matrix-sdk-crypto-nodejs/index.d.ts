/** The names matrix-bot-sdk 0.8 uses from @matrix-org/matrix-sdk-crypto-nodejs, over the wasm binding. */
import type * as wasm from '@matrix-org/matrix-sdk-crypto-wasm';
export declare class OlmMachine {
  readonly inner: wasm.OlmMachine;
  static initialize(userId: wasm.UserId, deviceId: wasm.DeviceId, storePath: string, passphrase?: string, storeType?: number): Promise<OlmMachine>;
  [k: string]: any;
}
export declare class DeviceLists extends wasm.DeviceLists {
  constructor(changed?: wasm.UserId[], left?: wasm.UserId[]);
}
export { UserId, DeviceId, RoomId, EncryptionSettings, Attachment, EncryptedAttachment } from '@matrix-org/matrix-sdk-crypto-wasm';
export declare const StoreType: { readonly Sled: 0; readonly Sqlite: 1 };
