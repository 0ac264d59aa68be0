/**
 * The built bot as a process on a digest database in trouble: a full disk when a digest is due (a real tiny
 * tmpfs, filled up after start-up), a full disk at start-up, and a database from a newer version.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteDigestStore } from '../../src/store/sqlite-store.js';
import { onceAt } from '../support/due-digests.js';
import { mountTinyDisk, type FullDisk } from '../support/full-disk.js';
import { cleanEnv, runNode } from '../support/spawn.js';

const children: ChildProcess[] = [];
const disks: FullDisk[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of disks.splice(0)) d.unmount();
});

async function until(what: string, cond: () => boolean | Promise<boolean>, logs: () => string, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; log tail:\n${logs().split('\n').slice(-10).join('\n')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The console bot with stdin held open and the HTTP listener on a free port (read back from its log). */
async function startConsoleBot(dataDir: string) {
  const child = spawn(process.execPath, ['dist/src/main.js'], { env: cleanEnv({ HTTP_PORT: '0', DATA_DIR: dataDir }), stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let port = 0;
  await until(
    'the HTTP listener',
    () => {
      const line = stderr.split('\n').find((l) => l.includes('http listening'));
      port = line ? (JSON.parse(line) as { address: { port: number } }).address.port : 0;
      return port > 0;
    },
    () => stderr,
  );
  return { child, exited, logs: () => stderr, out: () => stdout, url: (p: string) => `http://127.0.0.1:${port}${p}` };
}

describe('a full disk when a digest is due', () => {
  it('GIVEN the disk fills up before a slot THEN the process stays up, /readyz and /metrics report it, questions are answered, and the digest is posted once space is back', async () => {
    const disk = mountTinyDisk();
    disks.push(disk);
    const slot = Math.ceil(Date.now() / 1000) * 1000 + 4000;
    const store = new SqliteDigestStore(join(disk.dir, 'digests.sqlite'));
    store.add({
      id: 'fulldisk',
      platform: 'console',
      channelId: 'console',
      topics: ['filesystems'],
      allTopics: false,
      schedule: onceAt(new Date(slot)),
      timezone: 'UTC',
      mode: 'rotate',
      createdBy: 'test',
      createdAt: Date.now(),
      position: 0,
      lastSlot: null,
      lastHashes: {},
      enabled: true,
      disabledReason: null,
    });
    store.close();
    const bot = await startConsoleBot(disk.dir);
    disk.fill();
    await until('the storage error in /readyz', async () => (await fetch(bot.url('/readyz'))).status === 503, bot.logs);
    const ready = (await (await fetch(bot.url('/readyz'))).json()) as { reasons: string[] };
    expect(ready.reasons.join(' ')).toMatch(/digests: storage error while claiming digest slots: .*full/);
    expect(await (await fetch(bot.url('/metrics'))).text()).toMatch(/kbot_digest_storage_errors_total [1-9]/);
    bot.child.stdin!.write('/status fs\n');
    await until('an answer while the disk is full', () => bot.out().includes('Filesystems [concern]'), bot.logs);
    expect(bot.out()).not.toContain('Digest: Filesystems');
    disk.free();
    await until('the digest after space came back', () => bot.out().includes('Digest: Filesystems'), bot.logs, 60_000);
    await until('/readyz ready again', async () => (await fetch(bot.url('/readyz'))).status === 200, bot.logs);
    bot.child.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
    expect(bot.out().split('Digest: Filesystems')).toHaveLength(2); // posted once
    expect(bot.logs()).not.toMatch(/uncaught|unhandled/);
  }, 120_000);
});

describe('start-up on a database the bot cannot use', () => {
  it('GIVEN a full disk at start-up THEN exit 2 with one line naming DATA_DIR and the cause', async () => {
    const disk = mountTinyDisk();
    disks.push(disk);
    disk.fill();
    const r = await runNode(['dist/src/main.js'], '', cleanEnv({ DATA_DIR: disk.dir }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kernel-status-bot: DATA_DIR \(.*\): cannot (open|prepare) the digest database digests\.sqlite: .*full/m);
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
  });

  it('GIVEN a database written by a newer version THEN exit 2 with a clear message, and the file is left as it was', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'ksb-newer-'));
    new SqliteDigestStore(join(dir, 'digests.sqlite')).close();
    const raw = new Database(join(dir, 'digests.sqlite'));
    raw.pragma('user_version = 7');
    raw.close();
    const r = await runNode(['dist/src/main.js'], '', cleanEnv({ DATA_DIR: dir }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kernel-status-bot: DATA_DIR \(.*\): the digest database digests\.sqlite has schema version 7, newer than this bot knows \(4\)/m);
    const check = new Database(join(dir, 'digests.sqlite'), { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(7);
    check.close();
  });
});
