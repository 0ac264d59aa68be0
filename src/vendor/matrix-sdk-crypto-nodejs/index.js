'use strict';
// The names matrix-bot-sdk 0.8 uses from the native binding, on top of the same Rust crate compiled to
// WebAssembly. The wasm machine keeps its state in IndexedDB (`globalThis.indexedDB`): the caller installs
// one before OlmMachine.initialize (kernel-status-bot: src/adapters/matrix/crypto-store.ts).
const wasm = require('@matrix-org/matrix-sdk-crypto-wasm');

// The wasm side takes ownership of the UserIds in an array argument; the SDK reuses its arrays.
const copies = (users) => users.map((u) => new wasm.UserId(u.toString()));
const untrusted = () => new wasm.DecryptionSettings(wasm.TrustRequirement.Untrusted);
const usersKey = (users) => users.map(String).sort().join('\n');
const HOUR = 3600;
/** A cached "nothing to share" ends this long before the room key could expire by age (seconds). */
const AGE_MARGIN = 300;

// To-device requests: the SDK reads txn_id/event_type from the body (outgoingRequests) or as camelCase
// properties (shareRoomKey); the wasm request has them as separate snake_case properties.
function toDevice(r) {
  const body = JSON.stringify({ ...JSON.parse(r.body), txn_id: r.txn_id, event_type: r.event_type });
  return { id: r.id, type: r.type, txnId: r.txn_id, eventType: r.event_type, body };
}

function requestDone(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * How many more messages the room's outbound Megolm session may encrypt, and until when (Unix seconds),
 * before the machine must rotate it; read from the machine's own IndexedDB record (matrix-sdk-indexeddb
 * stores it as base64 JSON without a passphrase). Null when it cannot be read: then nothing is cached.
 */
async function roomKeyBudget(db, roomId) {
  try {
    const value = await requestDone(db.transaction('outbound_group_sessions', 'readonly').objectStore('outbound_group_sessions').get(roomId));
    const s = JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
    const { message_count: count, creation_time: created, invalidated, settings } = s;
    const msgs = Math.min(Math.max(Number(settings.rotation_period_msgs), 1), 10_000);
    const period = Math.max(Number(settings.rotation_period.secs), HOUR);
    if (invalidated !== false || !Number.isInteger(count) || !Number.isFinite(created + msgs + period)) return null;
    // One message of margin: `messages` more sends may skip shareRoomKey after the one that follows it.
    return { messages: msgs - count - 2, until: created + period - AGE_MARGIN };
  } catch {
    return null;
  }
}

/**
 * matrix-bot-sdk asks the machine before every encrypted send for pending requests, the users' missing
 * Olm sessions and whether the room key must be shared or rotated. Their answers can only change after a
 * call that changes the machine's state, so each state-changing call advances `generation`, and a "nothing
 * to do" answer is reused while the generation is unchanged. A cached "nothing to share" for a room also
 * needs the same members and settings, and ends before its Megolm session is due for rotation (by message
 * count or age, which the machine enforces only inside shareRoomKey). An empty sync still reaches the
 * machine at least once a minute, so time-driven retries inside it run at least that often.
 */
class OlmMachine {
  constructor(inner, dbName) {
    this.inner = inner;
    this.dbName = dbName;
    this.lastSync = '';
    this.lastSyncAt = 0;
    this.generation = 0;
    this.idleAt = -1;
    this.tracked = new Set();
    this.noneMissing = { at: -1, users: new Set() };
    this.shared = new Map();
    this.encrypting = new Map();
  }
  /** `storePath` becomes the IndexedDB name; the passphrase is not used (the store lives under DATA_DIR). */
  static async initialize(userId, deviceId, storePath) {
    return new OlmMachine(await wasm.OlmMachine.initialize(userId, deviceId, storePath), `${storePath}::matrix-sdk-crypto`);
  }
  get identityKeys() { return this.inner.identityKeys; }
  /** Runs a call that may change the machine's state. */
  async changing(call) {
    this.generation++;
    try {
      return await call();
    } finally {
      this.generation++;
    }
  }
  async outgoingRequests() {
    if (this.idleAt === this.generation) return [];
    const at = this.generation;
    const requests = await this.inner.outgoingRequests();
    if (!requests.length) this.idleAt = at;
    return requests.map((r) => (r.type === wasm.RequestType.ToDevice ? toDevice(r) : r));
  }
  markRequestAsSent(id, type, response) { return this.changing(() => this.inner.markRequestAsSent(id, type, response)); }
  async updateTrackedUsers(users) {
    const ids = users.map(String);
    if (ids.every((u) => this.tracked.has(u))) return;
    await this.changing(() => this.inner.updateTrackedUsers(copies(users)));
    for (const u of ids) this.tracked.add(u);
  }
  async getMissingSessions(users) {
    const key = usersKey(users);
    const none = this.noneMissing;
    if (none.at === this.generation && none.users.has(key)) return null;
    const at = this.generation;
    const claim = await this.inner.getMissingSessions(copies(users));
    if (claim) this.generation++;
    else if (at === this.generation) {
      // Only answers of the current generation are kept.
      if (none.at !== at) this.noneMissing = { at, users: new Set([key]) };
      else none.users.add(key);
    }
    return claim;
  }
  async shareRoomKey(roomId, users, settings) {
    const room = roomId.toString();
    const key = `${usersKey(users)}|${settings.algorithm}|${settings.historyVisibility}|${settings.rotationPeriod}|${settings.rotationPeriodMessages}|${settings.encryptStateEvents}`;
    const known = this.shared.get(room);
    if (known && known.key === key && known.at === this.generation && known.messages > 0 && Date.now() / 1000 < known.until) {
      known.messages--;
      return [];
    }
    this.shared.delete(room);
    const at = this.generation;
    const requests = await this.inner.shareRoomKey(roomId, copies(users), settings);
    if (requests.length) {
      this.generation++;
      return requests.map(toDevice);
    }
    // The stored message count is exact only while no encryption in the room is under way.
    const budget = this.encrypting.get(room) ? null : await roomKeyBudget(await this.database(), room);
    if (budget && !this.encrypting.get(room)) this.shared.set(room, { key, at, ...budget });
    return [];
  }
  async encryptRoomEvent(roomId, type, content) {
    const room = roomId.toString();
    this.encrypting.set(room, (this.encrypting.get(room) ?? 0) + 1);
    try {
      return await this.inner.encryptRoomEvent(roomId, type, content);
    } catch (err) {
      this.shared.delete(room);
      throw err;
    } finally {
      const n = this.encrypting.get(room) - 1;
      if (n) this.encrypting.set(room, n);
      else this.encrypting.delete(room);
    }
  }
  decryptRoomEvent(event, roomId) {
    // A failure may queue a room key request.
    return this.inner.decryptRoomEvent(event, roomId, untrusted()).catch((err) => {
      this.generation++;
      throw err;
    });
  }
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
    if (!lists.isEmpty()) this.tracked.clear();
    const out = await this.changing(() => this.inner.receiveSyncChanges(toDevice, lists, counts, fallback, untrusted()));
    this.lastSync = same;
    this.lastSyncAt = Date.now();
    return JSON.stringify(out.filter((e) => e instanceof wasm.DecryptedToDeviceEvent).map((e) => JSON.parse(e.rawEvent)));
  }
  /** Signatures whose `get` returns a plain object, as the SDK iterates it with Object.entries. */
  async sign(message) {
    const sigs = await this.inner.sign(message);
    return { get: (user) => Object.fromEntries(sigs.get(user) ?? new Map()) };
  }
  /** The machine's IndexedDB, opened once for reading. */
  database() {
    this.db ??= requestDone(globalThis.indexedDB.open(this.dbName));
    return this.db;
  }
  close() {
    this.db?.then((db) => db.close(), () => {});
    this.inner.close();
  }
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
