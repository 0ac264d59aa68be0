/**
 * The durable IndexedDB under the Matrix crypto machine (src/adapters/matrix/crypto-store.ts): what a
 * committed transaction wrote is there after reopening the file in a fresh in-memory IndexedDB; what an
 * aborted one wrote is not; the file is exclusive.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDBKeyRange } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CryptoStoreLockedError, PersistentIndexedDb } from '../../src/adapters/matrix/crypto-store.js';

let dir: string;
let open: PersistentIndexedDb[];

const done = (req: any): Promise<any> =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
const finished = (tx: any): Promise<void> =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error('aborted'));
  });

async function store(): Promise<PersistentIndexedDb> {
  const s = await PersistentIndexedDb.open(join(dir, 'crypto.sqlite'));
  open.push(s);
  return s;
}

/** Opens the test database (version 1: an in-line keyed store with an index, and an out-of-line keyed one). */
function openDb(s: PersistentIndexedDb): Promise<any> {
  const req = s.factory.open('test::db', 1);
  req.onupgradeneeded = () => {
    const db = req.result;
    const sessions = db.createObjectStore('sessions', { keyPath: ['room', 'id'] });
    sessions.createIndex('by_room', 'room', { unique: false });
    db.createObjectStore('core');
  };
  return done(req);
}

async function dump(db: any): Promise<{ sessions: any[]; core: [unknown, unknown][]; byRoom: number }> {
  const tx = db.transaction(['sessions', 'core'], 'readonly');
  const sessions = await done(tx.objectStore('sessions').getAll());
  const keys = await done(tx.objectStore('core').getAllKeys());
  const values = await done(tx.objectStore('core').getAll());
  const byRoom = await done(tx.objectStore('sessions').index('by_room').count('!a'));
  return { sessions, core: keys.map((k: unknown, i: number) => [k, values[i]]), byRoom };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'crypto-store-'));
  open = [];
});

afterEach(() => {
  for (const s of open) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('PersistentIndexedDb', () => {
  it('GIVEN committed puts, deletes (by key and range), cursor updates and deletes THEN a reopened store holds exactly the result', async () => {
    const first = await store();
    const db = await openDb(first);
    let tx = db.transaction(['sessions', 'core'], 'readwrite');
    const sessions = tx.objectStore('sessions');
    for (let i = 0; i < 5; i++) sessions.put({ room: i < 3 ? '!a' : '!b', id: `s${i}`, pickle: new Uint8Array([i, 1, 2]), n: i });
    const core = tx.objectStore('core');
    core.put({ account: 'pickled', map: new Map([['k', 1]]) }, 'account');
    core.add(7, ['composite', 2]);
    core.put('gone', 'temp');
    core.put('bytes', new Uint8Array([9, 9]));
    await finished(tx);

    tx = db.transaction(['sessions', 'core'], 'readwrite');
    tx.objectStore('core').delete('temp');
    tx.objectStore('sessions').delete(IDBKeyRange.bound(['!b', 's3'], ['!b', 's4']));
    const cursorDone = new Promise<void>((resolve) => {
      const req = tx.objectStore('sessions').index('by_room').openCursor('!a');
      req.onsuccess = () => {
        const c = req.result;
        if (!c) return resolve();
        if (c.value.id === 's0') c.delete();
        else c.update({ ...c.value, n: c.value.n * 10 });
        c.continue();
      };
    });
    await cursorDone;
    await finished(tx);
    const before = await dump(db);
    db.close();
    first.close();

    const second = await store();
    const again = await openDb(second);
    const after = await dump(again);
    expect(after).toEqual(before);
    expect(after.sessions.map((s: any) => [s.id, s.n])).toEqual([
      ['s1', 10],
      ['s2', 20],
    ]);
    expect(after.core.find(([k]) => k === 'account')?.[1]).toEqual({ account: 'pickled', map: new Map([['k', 1]]) });
    expect(after.sessions[0].pickle).toEqual(new Uint8Array([1, 1, 2]));
    expect(after.byRoom).toBe(2);
    expect(second.recordCount()).toBe(5); // 2 sessions + account, composite key, binary key
    again.close();
  });

  it('GIVEN an aborted transaction THEN none of its writes are stored', async () => {
    const first = await store();
    const db = await openDb(first);
    const tx = db.transaction(['core'], 'readwrite');
    tx.objectStore('core').put('kept?', 'x');
    const aborted = finished(tx).catch(() => 'aborted');
    tx.abort();
    expect(await aborted).toBe('aborted');
    expect(first.recordCount()).toBe(0);
    db.close();
  });

  it('GIVEN the file is open THEN a second open is refused with a clear error', async () => {
    await store();
    const err = await PersistentIndexedDb.open(join(dir, 'crypto.sqlite')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CryptoStoreLockedError);
    expect((err as Error).message).toMatch(/in use by another process: run one bot per DATA_DIR/);
  });
});
