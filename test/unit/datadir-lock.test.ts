/**
 * The DATA_DIR lease (SQLite mode, src/lease.ts) on a real SQLite file opened twice, as two processes would.
 */
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { SqliteDigestStore } from '../../src/store/sqlite-store.js';
import { DataDirLock } from '../../src/lease.js';
import { newReplicaId } from '../../src/store/open.js';

const log = pino({ level: 'silent' });

function twoHandles(): [SqliteDigestStore, SqliteDigestStore] {
  const file = join(mkdtempSync(join(tmpdir(), 'ksb-lock-')), 'digests.sqlite');
  return [new SqliteDigestStore(file), new SqliteDigestStore(file)];
}

/** A pid that no process has (above Linux's pid_max). */
const GONE_PID = 4_194_305;

describe('DATA_DIR lease', () => {
  it('one holder at a time; the other takes it after release; waitFor returns false when stopped', async () => {
    const [s1, s2] = twoHandles();
    // Two processes of this host that are alive (the parent's pid: this process's own pid would mark a previous incarnation).
    const a = new DataDirLock(s1, `${hostname().slice(0, 40)}-${process.ppid}-111111`, 60_000, log);
    const b = new DataDirLock(s2, `${hostname().slice(0, 40)}-${process.ppid}-222222`, 60_000, log);
    expect(await a.tryTake()).toBe(true);
    expect(await b.tryTake()).toBe(false);
    expect(await b.otherHolder()).toBe(a.holder);
    let stop = false;
    const waiting = b.waitFor(() => stop);
    await a.release();
    expect(await waiting).toBe(true);
    expect(await a.tryTake()).toBe(false);
    stop = true;
    expect(await a.waitFor(() => stop)).toBe(false);
    s1.close();
    s2.close();
  });

  it('a lease left by a process of this host that is gone is taken at once; one of another host waits for expiry', async () => {
    const [s1, s2] = twoHandles();
    s1.acquireLease(DataDirLock.NAME, `${hostname().slice(0, 40)}-${GONE_PID}-0a0b0c`, 60_000);
    const me = new DataDirLock(s2, newReplicaId(), 60_000, log);
    expect(await me.tryTake()).toBe(true);
    await me.release();
    s1.acquireLease(DataDirLock.NAME, `another-host-${GONE_PID}-0a0b0c`, 60_000);
    expect(await me.tryTake()).toBe(false);
    s1.close();
    s2.close();
  });

  it('calls onLost once when another process has taken the lease', async () => {
    const [s1, s2] = twoHandles();
    const a = new DataDirLock(s1, newReplicaId(), 1000, log);
    expect(await a.tryTake()).toBe(true);
    const lost: string[] = [];
    a.keep((reason) => lost.push(reason));
    s2.releaseLease(DataDirLock.NAME, a.holder);
    expect(s2.acquireLease(DataDirLock.NAME, 'other-host-1-abcdef', 60_000)).toBe(true);
    const end = Date.now() + 10_000;
    while (lost.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/could not renew its DATA_DIR lease/);
    await a.release();
    s1.close();
    s2.close();
  });
});
