// biome-ignore-all lint/suspicious/noExplicitAny: IndexedDB objects (no DOM types in this project)
/**
 * The IndexedDB the wasm crypto machine keeps its state in, made durable: fake-indexeddb serves it from
 * memory, and every committed IndexedDB transaction is written through to one SQLite file (better-sqlite3,
 * which the digests already use) in one SQLite transaction. At start-up the file is loaded back into a fresh
 * in-memory IndexedDB before the machine opens it. The file is held with an exclusive lock, so a second
 * process on the same DATA_DIR is refused instead of corrupting the store.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import Database from 'better-sqlite3';
import * as fakeIdb from 'fake-indexeddb';
import { StartupError } from '../../startup-error.js';

/** Thrown when another process holds the crypto store. */
export class CryptoStoreLockedError extends StartupError {
  override name = 'CryptoStoreLockedError';
}

type Idb = any;

interface StoreSchema {
  name: string;
  keyPath: string | string[] | null;
  autoIncrement: boolean;
  indexes: { name: string; keyPath: string | string[]; unique: boolean; multiEntry: boolean }[];
}

type Op = { kind: 'put'; store: string; key: string; value: Buffer } | { kind: 'delete'; store: string; key: string } | { kind: 'clear'; store: string };

/** The store of each IndexedDB connection opened through a PersistentIndexedDb: only those are written through. */
const owners = new WeakMap<object, PersistentIndexedDb>();
const ownerOf = (tx: Idb): PersistentIndexedDb | undefined => owners.get(tx.db);
/** Pending writes of each open readwrite transaction. */
const journals = new WeakMap<object, Op[]>();

/** A deterministic text form of an IndexedDB key (numbers, strings, dates, binary, arrays of these). */
function encodeKey(key: unknown): string {
  const tag = (k: unknown): unknown => {
    if (typeof k === 'string') return ['s', k];
    if (typeof k === 'number') return ['n', k];
    if (k instanceof Date) return ['d', k.getTime()];
    if (Array.isArray(k)) return ['a', k.map(tag)];
    if (ArrayBuffer.isView(k)) return ['b', Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('base64')];
    if (k instanceof ArrayBuffer) return ['b', Buffer.from(k).toString('base64')];
    throw new Error(`crypto store: unsupported IndexedDB key type ${typeof k}`);
  };
  return JSON.stringify(tag(key));
}

function decodeKey(text: string): unknown {
  const untag = ([t, v]: [string, any]): unknown => {
    if (t === 'd') return new Date(v);
    if (t === 'a') return (v as [string, any][]).map(untag);
    if (t === 'b') return new Uint8Array(Buffer.from(v, 'base64')).buffer;
    return v;
  };
  return untag(JSON.parse(text));
}

function record(tx: Idb, op: Op): void {
  const owner = ownerOf(tx);
  if (!owner) return;
  let ops = journals.get(tx);
  if (!ops) {
    ops = [];
    journals.set(tx, ops);
    const name = tx.db.name as string;
    tx.addEventListener('complete', () => owner.commit(name, ops!));
  }
  ops.push(op);
}

let patched = false;

/** Hooks the writing methods of fake-indexeddb once per process; they journal only for owned databases. */
function patchWrites(): void {
  if (patched) return;
  patched = true;
  const store = fakeIdb.IDBObjectStore.prototype as Idb;
  for (const method of ['put', 'add'] as const) {
    const original = store[method];
    store[method] = function (this: Idb, value: unknown, key?: unknown) {
      const req = original.call(this, value, key);
      if (ownerOf(this.transaction)) {
        const bytes = serialize(value);
        req.addEventListener('success', () => record(this.transaction, { kind: 'put', store: this.name, key: encodeKey(req.result), value: bytes }));
      }
      return req;
    };
  }
  const del = store.delete;
  store.delete = function (this: Idb, query: unknown) {
    if (query === undefined || query === null || !ownerOf(this.transaction)) return del.call(this, query);
    // Requests of a transaction run in order: these keys are exactly the ones the delete removes.
    const keys = this.getAllKeys(query);
    let refused = false;
    keys.addEventListener('success', () => {
      if (refused) return;
      for (const k of keys.result) record(this.transaction, { kind: 'delete', store: this.name, key: encodeKey(k) });
    });
    try {
      return del.call(this, query);
    } catch (err) {
      refused = true;
      throw err;
    }
  };
  const clear = store.clear;
  store.clear = function (this: Idb) {
    const req = clear.call(this);
    req.addEventListener('success', () => record(this.transaction, { kind: 'clear', store: this.name }));
    return req;
  };
  const cursor = fakeIdb.IDBCursor.prototype as Idb;
  const storeOf = (c: Idb): Idb => (c.source instanceof fakeIdb.IDBIndex ? c.source.objectStore : c.source);
  const update = cursor.update;
  cursor.update = function (this: Idb, value: unknown) {
    const s = storeOf(this);
    const key = encodeKey(this.primaryKey);
    const bytes = ownerOf(s.transaction) ? serialize(value) : undefined;
    const req = update.call(this, value);
    if (bytes) req.addEventListener('success', () => record(s.transaction, { kind: 'put', store: s.name, key, value: bytes }));
    return req;
  };
  const cdel = cursor.delete;
  cursor.delete = function (this: Idb) {
    const s = storeOf(this);
    const key = encodeKey(this.primaryKey);
    const req = cdel.call(this);
    req.addEventListener('success', () => record(s.transaction, { kind: 'delete', store: s.name, key }));
    return req;
  };
}

function requestDone<T>(req: Idb): Promise<T> {
  return new Promise((resolve, reject) => {
    req.addEventListener('success', () => resolve(req.result));
    req.addEventListener('error', () => reject(req.error ?? new Error('IndexedDB request failed')));
  });
}

/**
 * An in-memory IndexedDB whose committed writes persist in `file`. `install()` makes it the process's
 * `indexedDB` (what the wasm machine opens); `close()` releases the file and its lock.
 */
export class PersistentIndexedDb {
  readonly factory: Idb = new fakeIdb.IDBFactory();
  private readonly db: Database.Database;
  private readonly rawOpen: (name: string, version?: number) => Idb = this.factory.open.bind(this.factory);
  private writer: ((dbName: string, ops: Op[]) => void) | undefined;

  private constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file, { timeout: 0 });
    try {
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.exec('BEGIN EXCLUSIVE; COMMIT');
    } catch (err) {
      this.db.close();
      if ((err as { code?: string }).code === 'SQLITE_BUSY') {
        throw new CryptoStoreLockedError(
          `the Matrix crypto store ${file} is in use by another process: run one bot per DATA_DIR (two processes on one crypto store corrupt it)`,
        );
      }
      throw err;
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS idb_databases (name TEXT PRIMARY KEY, version INTEGER NOT NULL, schema TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS idb_records (db TEXT NOT NULL, store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (db, store, key));
    `);
    this.wrapFactory();
  }

  /** Opens (and locks) the file and loads its databases into memory. */
  static async open(file: string): Promise<PersistentIndexedDb> {
    patchWrites();
    const store = new PersistentIndexedDb(file);
    try {
      await store.restore();
    } catch (err) {
      store.close();
      throw err;
    }
    return store;
  }

  /** Makes this the global `indexedDB` (and the IDB classes the wasm binding checks against). */
  install(): void {
    const g = globalThis as Record<string, unknown>;
    g.indexedDB = this.factory;
    for (const name of [
      'IDBCursor',
      'IDBCursorWithValue',
      'IDBDatabase',
      'IDBFactory',
      'IDBIndex',
      'IDBKeyRange',
      'IDBObjectStore',
      'IDBOpenDBRequest',
      'IDBRequest',
      'IDBTransaction',
      'IDBVersionChangeEvent',
    ]) {
      g[name] = (fakeIdb as Record<string, unknown>)[name];
    }
  }

  /** Number of records on disk (for tests and the bench). */
  recordCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM idb_records').get() as { n: number }).n;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Writes one committed IndexedDB transaction. */
  commit(dbName: string, ops: Op[]): void {
    if (!this.db.open) return;
    this.writer ??= this.prepareWriter();
    this.writer(dbName, ops);
  }

  /** The statements and the SQLite transaction of `commit`, prepared once. */
  private prepareWriter(): (dbName: string, ops: Op[]) => void {
    const put = this.db.prepare('INSERT OR REPLACE INTO idb_records (db, store, key, value) VALUES (?, ?, ?, ?)');
    const del = this.db.prepare('DELETE FROM idb_records WHERE db = ? AND store = ? AND key = ?');
    const clear = this.db.prepare('DELETE FROM idb_records WHERE db = ? AND store = ?');
    return this.db.transaction((dbName: string, ops: Op[]) => {
      for (const op of ops) {
        if (op.kind === 'put') put.run(dbName, op.store, op.key, op.value);
        else if (op.kind === 'delete') del.run(dbName, op.store, op.key);
        else clear.run(dbName, op.store);
      }
    });
  }

  /** Databases opened through the factory are owned; a finished upgrade saves their schema. */
  private wrapFactory(): void {
    this.factory.open = (name: string, version?: number) => {
      const req = this.rawOpen(name, version);
      let upgraded = false;
      // Listeners run before `onupgradeneeded`: the connection is owned before the upgrade writes anything.
      req.addEventListener('upgradeneeded', () => {
        upgraded = true;
        owners.set(req.result, this);
      });
      req.addEventListener('success', () => {
        owners.set(req.result, this);
        if (upgraded) this.saveSchema(req.result);
      });
      return req;
    };
    const remove = this.factory.deleteDatabase.bind(this.factory);
    this.factory.deleteDatabase = (name: string) => {
      const req = remove(name);
      req.addEventListener('success', () => {
        if (!this.db.open) return;
        this.db.prepare('DELETE FROM idb_records WHERE db = ?').run(name);
        this.db.prepare('DELETE FROM idb_databases WHERE name = ?').run(name);
      });
      return req;
    };
  }

  private saveSchema(idb: Idb): void {
    const names = [...idb.objectStoreNames] as string[];
    const schema: StoreSchema[] = [];
    if (names.length) {
      const tx = idb.transaction(names, 'readonly');
      for (const n of names) {
        const s = tx.objectStore(n);
        const indexes = ([...s.indexNames] as string[]).map((i) => {
          const ix = s.index(i);
          return { name: i, keyPath: ix.keyPath, unique: ix.unique, multiEntry: ix.multiEntry };
        });
        schema.push({ name: n, keyPath: s.keyPath, autoIncrement: s.autoIncrement, indexes });
      }
    }
    const keep = new Set(names);
    this.db.transaction(() => {
      this.db.prepare('INSERT OR REPLACE INTO idb_databases (name, version, schema) VALUES (?, ?, ?)').run(idb.name, idb.version, JSON.stringify(schema));
      // Object stores dropped by the upgrade lose their records.
      for (const row of this.db.prepare('SELECT DISTINCT store FROM idb_records WHERE db = ?').all(idb.name) as { store: string }[]) {
        if (!keep.has(row.store)) this.db.prepare('DELETE FROM idb_records WHERE db = ? AND store = ?').run(idb.name, row.store);
      }
    })();
  }

  /** Rebuilds every saved database in memory (schema, then records) without journaling it again. */
  private async restore(): Promise<void> {
    const dbs = this.db.prepare('SELECT name, version, schema FROM idb_databases').all() as { name: string; version: number; schema: string }[];
    for (const { name, version, schema } of dbs) {
      const stores = JSON.parse(schema) as StoreSchema[];
      const req = this.rawOpen(name, version);
      req.addEventListener('upgradeneeded', () => {
        for (const s of stores) {
          const os = req.result.createObjectStore(s.name, { keyPath: s.keyPath, autoIncrement: s.autoIncrement });
          for (const i of s.indexes) os.createIndex(i.name, i.keyPath, { unique: i.unique, multiEntry: i.multiEntry });
        }
      });
      const idb = await requestDone<Idb>(req);
      if (stores.length) {
        const tx = idb.transaction(
          stores.map((s) => s.name),
          'readwrite',
        );
        const byName = new Map(stores.map((s) => [s.name, s]));
        const rows = this.db.prepare('SELECT store, key, value FROM idb_records WHERE db = ?').iterate(name) as Iterable<{
          store: string;
          key: string;
          value: Buffer;
        }>;
        for (const row of rows) {
          const s = byName.get(row.store);
          if (!s) continue;
          const value = deserialize(row.value);
          if (s.keyPath === null) tx.objectStore(row.store).put(value, decodeKey(row.key));
          else tx.objectStore(row.store).put(value);
        }
        await new Promise<void>((resolve, reject) => {
          tx.addEventListener('complete', () => resolve());
          tx.addEventListener('abort', () => reject(tx.error ?? new Error(`crypto store: restoring ${name} failed`)));
        });
      }
      idb.close();
    }
  }
}
