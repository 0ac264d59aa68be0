/**
 * End-to-end encryption for the Matrix adapter, on matrix-bot-sdk's own CryptoClient. The SDK's Rust
 * binding is our shim over @matrix-org/matrix-sdk-crypto-wasm (src/vendor/matrix-sdk-crypto-nodejs); the
 * machine's IndexedDB lives in DATA_DIR/matrix-crypto/ (see crypto-store.ts).
 */
import { join } from 'node:path';
import { UserId } from '@matrix-org/matrix-sdk-crypto-nodejs';
import { RustSdkCryptoStorageProvider, type MatrixClient } from 'matrix-bot-sdk';
import { RustEngine, SYNC_LOCK_NAME } from 'matrix-bot-sdk/lib/e2ee/RustEngine.js';
import { PersistentIndexedDb } from './crypto-store.js';

const KEYS_QUERY = 1; // RequestType.KeysQuery

/** Where the crypto state lives: back this directory up with the access token (a new device needs both). */
export function cryptoDir(dataDir: string): string {
  return join(dataDir, 'matrix-crypto');
}

/** The SDK's storage provider (device id, room encryption settings) in `cryptoDir`. */
export function cryptoStorage(dataDir: string): RustSdkCryptoStorageProvider {
  return new RustSdkCryptoStorageProvider(cryptoDir(dataDir), 0);
}

/**
 * Opens (and locks) the machine's store and makes it the process's IndexedDB; call before the client
 * starts. Refuses with CryptoStoreLockedError when another process holds it.
 */
export async function openCryptoStore(dataDir: string): Promise<PersistentIndexedDb> {
  fetchKeysBeforeClaiming();
  const store = await PersistentIndexedDb.open(join(cryptoDir(dataDir), 'olm-machine.sqlite'));
  store.install();
  return store;
}

interface Engine {
  lock: { acquire(key: string, fn: () => Promise<void>): Promise<void> };
  machine: { updateTrackedUsers(u: UserId[]): Promise<void>; getMissingSessions(u: UserId[]): Promise<unknown> };
  runOnly(...types: number[]): Promise<void>;
  processKeysClaimRequest(r: unknown): Promise<void>;
}

/**
 * matrix-bot-sdk 0.8's addTrackedUsers claims Olm sessions before the new users' device keys are known;
 * the crypto library then waits ~5 s per call for a key query that cannot run while the call holds the
 * sync lock (the bot is deaf meanwhile). Query the keys first, as the SDK does before encrypting.
 */
function fetchKeysBeforeClaiming(): void {
  const proto = RustEngine.prototype as unknown as { addTrackedUsers: ((this: Engine, userIds: string[]) => Promise<void>) & { keysFirst?: boolean } };
  if (proto.addTrackedUsers.keysFirst) return;
  const addTrackedUsers = async function (this: Engine, userIds: string[]): Promise<void> {
    await this.lock.acquire(SYNC_LOCK_NAME, async () => {
      const users = userIds.map((u) => new UserId(u));
      await this.machine.updateTrackedUsers(users);
      await this.runOnly(KEYS_QUERY);
      const claim = await this.machine.getMissingSessions(users);
      if (claim) await this.processKeysClaimRequest(claim);
    });
  };
  proto.addTrackedUsers = Object.assign(addTrackedUsers, { keysFirst: true });
}

/** Whether `roomId` is encrypted for a client with crypto (false without). */
export async function isEncrypted(client: MatrixClient, roomId: string): Promise<boolean> {
  return client.crypto ? client.crypto.isRoomEncrypted(roomId) : false;
}

/** An `m.room.message` as the event type and content to send into `roomId`: encrypted when the room is. */
export async function sealed(client: MatrixClient, roomId: string, content: object): Promise<{ type: string; content: object }> {
  if (!(await isEncrypted(client, roomId))) return { type: 'm.room.message', content };
  return { type: 'm.room.encrypted', content: await client.crypto.encryptRoomEvent(roomId, 'm.room.message', content) };
}
