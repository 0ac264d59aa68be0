/**
 * End-to-end encryption for the Matrix adapter, on matrix-bot-sdk's own CryptoClient. The SDK's Rust
 * binding is our shim over @matrix-org/matrix-sdk-crypto-wasm (src/vendor/matrix-sdk-crypto-nodejs); the
 * machine's IndexedDB lives in DATA_DIR/matrix-crypto/ (see crypto-store.ts).
 */
import { join } from 'node:path';
import { UserId } from '@matrix-org/matrix-sdk-crypto-nodejs';
import { CryptoClient, type EncryptedRoomEvent, RoomEvent, RustSdkCryptoStorageProvider, type MatrixClient } from 'matrix-bot-sdk';
import { RustEngine, SYNC_LOCK_NAME } from 'matrix-bot-sdk/lib/e2ee/RustEngine.js';
import { PersistentIndexedDb } from './crypto-store.js';

const KEYS_QUERY = 1; // RequestType.KeysQuery

/** Where the crypto state lives: back this directory up with the access token (a new device needs both). */
export function cryptoDir(dataDir: string): string {
  return join(dataDir, 'matrix-crypto');
}

/** The SDK's storage provider (device id, room encryption settings) in `cryptoDir`. */
export function cryptoStorage(dataDir: string): RustSdkCryptoStorageProvider {
  return new RoomConfigCache(cryptoDir(dataDir), 0);
}

/**
 * matrix-bot-sdk reads a room's encryption settings three times per encrypted round trip, each a SHA-512
 * of the room id in plain JavaScript and a lowdb lookup; they change only through storeRoom.
 */
class RoomConfigCache extends RustSdkCryptoStorageProvider {
  private readonly rooms = new Map<string, ReturnType<RustSdkCryptoStorageProvider['getRoom']>>();

  override getRoom(roomId: string): ReturnType<RustSdkCryptoStorageProvider['getRoom']> {
    let config = this.rooms.get(roomId);
    if (!config) {
      config = super.getRoom(roomId);
      this.rooms.set(roomId, config);
    }
    return config;
  }

  override async storeRoom(roomId: string, config: Parameters<RustSdkCryptoStorageProvider['storeRoom']>[1]): Promise<void> {
    this.rooms.delete(roomId);
    await super.storeRoom(roomId, config);
  }
}

/**
 * Opens (and locks) the machine's store and makes it the process's IndexedDB; call before the client
 * starts. Refuses with CryptoStoreLockedError when another process holds it.
 */
export async function openCryptoStore(dataDir: string): Promise<PersistentIndexedDb> {
  fetchKeysBeforeClaiming();
  skipOwnEchoes();
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

/**
 * matrix-bot-sdk decrypts every encrypted event of a sync, the bot's own replies coming back included: a
 * Megolm decryption and device lookups per reply that nothing reads (the adapter ignores its own user's
 * events). Events of the bot's own user are handed on as they arrived, still encrypted.
 */
function skipOwnEchoes(): void {
  type Decrypt = ((this: CryptoClient, event: EncryptedRoomEvent, roomId: string) => Promise<RoomEvent<unknown>>) & { ownSkipped?: boolean };
  const proto = CryptoClient.prototype as unknown as { decryptRoomEvent: Decrypt; client: MatrixClient };
  const decrypt = proto.decryptRoomEvent;
  if (decrypt.ownSkipped) return;
  const skipping: Decrypt = async function (this: CryptoClient, event, roomId) {
    const own = await (this as unknown as { client: MatrixClient }).client.getUserId();
    return event.sender === own ? new RoomEvent(event.raw) : decrypt.call(this, event, roomId);
  };
  proto.decryptRoomEvent = Object.assign(skipping, { ownSkipped: true });
}

/**
 * Remembers each room's joined members until `forget(roomId)` (call it on every membership event of the
 * room): matrix-bot-sdk fetches them from the homeserver before every encrypted send, to share the room key
 * with exactly the joined members' devices.
 */
export function rememberJoinedMembers(client: MatrixClient): { forget(roomId: string): void } {
  const fetch = client.getJoinedRoomMembers.bind(client);
  const known = new Map<string, Promise<string[]>>();
  client.getJoinedRoomMembers = (roomId: string) => {
    let members = known.get(roomId);
    if (!members) {
      members = fetch(roomId);
      known.set(roomId, members);
      members.catch(() => known.delete(roomId));
    }
    return members.then((m) => [...m]);
  };
  return { forget: (roomId) => void known.delete(roomId) };
}

/**
 * Which rooms are encrypted, remembered: matrix-bot-sdk asks the homeserver again on every send into an
 * unencrypted room (it stores only encrypted ones). Encryption cannot be turned off in a room, so only
 * "not encrypted" is forgotten, when the room's m.room.encryption state changes.
 */
export class RoomEncryption {
  private readonly known = new Map<string, boolean>();

  constructor(private readonly client: () => MatrixClient) {}

  async isEncrypted(roomId: string): Promise<boolean> {
    const crypto = this.client().crypto;
    if (!crypto) return false;
    let encrypted = this.known.get(roomId);
    if (encrypted === undefined) {
      encrypted = await crypto.isRoomEncrypted(roomId);
      this.known.set(roomId, encrypted);
    }
    return encrypted;
  }

  /** Call for every room event. */
  onEvent(roomId: string, ev: { type: string; state_key?: string }): void {
    if (ev.type === 'm.room.encryption' && ev.state_key === '') this.known.delete(roomId);
  }

  forget(roomId: string): void {
    this.known.delete(roomId);
  }

  /** An `m.room.message` as the event type and content to send into `roomId`: encrypted when the room is. */
  async seal(roomId: string, content: object): Promise<{ type: string; content: object }> {
    if (!(await this.isEncrypted(roomId))) return { type: 'm.room.message', content };
    return { type: 'm.room.encrypted', content: await this.client().crypto.encryptRoomEvent(roomId, 'm.room.message', content) };
  }
}
