/**
 * SyncStorage (src/adapters/matrix/sync-storage.ts) on a real file: sync positions are coalesced into one write
 * per interval and at flush, never written before the listeners in flight have finished, and a process that
 * dies before a flush leaves the older position on disk (what the next start reads).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SyncStorage } from '../../src/adapters/matrix/sync-storage.js';
import { until } from '../support/poll.js';

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sync-storage-'));
  file = join(dir, 'matrix-sync.json');
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const onDisk = (): string | null => (JSON.parse(readFileSync(file, 'utf8')) as { syncToken: string | null }).syncToken;
const noError = (err: unknown) => {
  throw err;
};

describe('SyncStorage', () => {
  it('keeps positions in memory and writes the latest once per interval', async () => {
    const s = new SyncStorage(file, async () => undefined, noError, 50);
    for (let i = 1; i <= 100; i++) s.setSyncToken(`t${i}`);
    expect(onDisk()).toBeNull();
    expect(s.getSyncToken()).toBe('t100');
    await until('the coalesced write', () => onDisk() === 't100', { timeoutMs: 10_000 });
    s.setSyncToken('t101');
    await until('the next write', () => onDisk() === 't101', { timeoutMs: 10_000 });
  });

  it('a process that dies before the flush leaves the older position for the next start', async () => {
    const s = new SyncStorage(file, async () => undefined, noError, 60_000);
    s.setSyncToken('handled');
    await s.flush();
    s.setSyncToken('newer');
    // No flush: the process is gone. The next start reads the file.
    const next = new SyncStorage(file, async () => undefined, noError, 60_000);
    expect(next.getSyncToken()).toBe('handled');
    await s.flush();
    expect(new SyncStorage(file, async () => undefined, noError).getSyncToken()).toBe('newer');
  });

  it('writes a position only after the listeners in flight have finished', async () => {
    let finish!: () => void;
    const listener = new Promise<void>((r) => (finish = r));
    const s = new SyncStorage(file, () => listener, noError, 60_000);
    s.setSyncToken('t1');
    const flushed = s.flush();
    await new Promise((r) => setImmediate(r));
    expect(onDisk()).toBeNull();
    finish();
    await flushed;
    expect(onDisk()).toBe('t1');
  });

  it('records nothing once frozen; a flush then writes what was recorded before', async () => {
    const s = new SyncStorage(file, async () => undefined, noError, 60_000);
    s.setSyncToken('before-stop');
    s.frozen = true;
    s.setSyncToken('answered-after-stop');
    await s.flush();
    expect(onDisk()).toBe('before-stop');
  });

  it('a failed write is reported and retried by the next flush', async () => {
    const errors: unknown[] = [];
    let fail = true;
    const s = new SyncStorage(
      file,
      async () => (fail ? Promise.reject(new Error('ENOSPC: no space left on device')) : undefined),
      (e) => errors.push(e),
      60_000,
    );
    s.setSyncToken('t1');
    await s.flush();
    expect(errors).toHaveLength(1);
    expect(onDisk()).toBeNull();
    fail = false;
    await s.flush();
    expect(onDisk()).toBe('t1');
  });

  it('a reset (new filter) is written at once', async () => {
    const s = new SyncStorage(file, async () => undefined, noError, 60_000);
    s.setSyncToken('t1');
    await s.flush();
    s.setSyncToken('t2');
    s.setSyncToken(null);
    expect(onDisk()).toBeNull();
    expect(s.getSyncToken()).toBeNull();
  });
});
