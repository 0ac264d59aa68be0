/**
 * SQLite mode, one process per DATA_DIR: two bot processes (the built bot) started by mistake on one DATA_DIR
 * (two containers on one volume). Only one holds the Discord gateway; the other waits as a standby (/readyz 503
 * naming the reason) and takes over when the first stops or dies.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/server.js';
import { startReplica, until, type Replica } from '../support/replicas.js';

const LEASE_SECONDS = 4;

let discord: FakeDiscord;
let dataDir: string;
const procs: Replica[] = [];

const alive = (r: Replica) => r.child.exitCode === null && r.child.signalCode === null;

async function readyz(r: Replica): Promise<{ status: number; body: { status?: string; reasons?: string[] } }> {
  const res = await fetch(`${r.url()}/readyz`).catch(() => undefined);
  return res ? { status: res.status, body: (await res.json()) as { status?: string; reasons?: string[] } } : { status: 0, body: {} };
}

/** Gateway sessions opened so far (IDENTIFY frames the fake received). */
const identifies = () => discord.gatewayReceived.filter((f) => f.op === 2).length;

function start(): Replica {
  const r = startReplica({
    DISCORD_TOKEN: discord.token,
    DISCORD_API_URL: discord.apiUrl,
    DATA_DIR: dataDir,
    HTTP_PORT: '0',
    REPLICA_LEASE_SECONDS: String(LEASE_SECONDS),
  });
  procs.push(r);
  return r;
}

beforeAll(async () => {
  discord = await startFakeDiscord();
  dataDir = mkdtempSync(join(tmpdir(), 'ksb-datadir-'));
});

afterAll(async () => {
  for (const r of procs) if (alive(r)) r.child.kill('SIGKILL');
  await Promise.all(procs.map((r) => r.exited));
  await discord?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('two processes on one DATA_DIR (SQLite)', () => {
  it('only one holds the gateway; the other is a standby until the first stops (SIGTERM) or dies (SIGKILL)', async () => {
    const a = start();
    await until('the first process ready', async () => a.url() !== '' && (await readyz(a)).status === 200, 60_000, procs);
    expect(identifies()).toBe(1);

    const b = start();
    await until(
      'the second process to wait as a standby',
      () => b.lines.some((l) => String(l.msg).includes('another bot process holds this DATA_DIR')),
      60_000,
      procs,
    );
    const standby = await readyz(b);
    expect(standby.status).toBe(503);
    expect(standby.body.reasons?.join(' ')).toMatch(/standby: another bot process holds this DATA_DIR/);
    expect((await readyz(a)).status).toBe(200);
    // A mention is answered once, by the holder.
    const sent = discord.sendUserMessage({ content: `<@${discord.botUser.id}> what about btrfs?`, mentionsBot: true });
    const isReply = (r: { method: string; path: string; body?: any }) => r.method === 'POST' && r.body?.message_reference?.message_id === sent.id;
    await discord.waitForRequest(isReply, 30_000);
    // The standby tries again every lease/4 = 1 s: three rounds later it still has not connected.
    await new Promise((r) => setTimeout(r, (3 * (LEASE_SECONDS * 1000)) / 4));
    expect(identifies()).toBe(1);
    expect(discord.requests.filter(isReply)).toHaveLength(1);

    // SIGKILL: the lease's holder is gone from this host, so the standby takes it on its next round, not after the lease.
    a.child.kill('SIGKILL');
    await a.exited;
    await until('the standby to take over the gateway', async () => (await readyz(b)).status === 200, 30_000, procs);
    expect(identifies()).toBe(2);

    // A third process waits for the second; SIGTERM of the second frees DATA_DIR at once.
    const c = start();
    await until(
      'the third process to wait as a standby',
      () => c.lines.some((l) => String(l.msg).includes('another bot process holds this DATA_DIR')),
      60_000,
      procs,
    );
    expect(identifies()).toBe(2);
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    await until('the third process to take over', async () => (await readyz(c)).status === 200, 30_000, procs);
    expect(identifies()).toBe(3);
  });

  it('a process whose DATA_DIR lease was taken from it stops and exits 1 (two never run at once)', async () => {
    const [c] = procs.filter(alive);
    expect(c).toBeDefined();
    // Another process (here: this test, with the same SQLite file) holds the lease now.
    const db = new Database(join(dataDir, 'digests.sqlite'));
    db.prepare("UPDATE leases SET holder = 'elsewhere-1-abcdef', expires_at = ? WHERE name = 'instance'").run(Date.now() + 600_000);
    db.close();
    expect(await c!.exited).toBe(1);
    expect(c!.lines.some((l) => l.msg === 'DATA_DIR lease lost; stopping so that one process runs on it')).toBe(true);
  });
});
