/**
 * Several replicas on PostgreSQL (the built bot as child processes, a real PostgreSQL 15 started here, the fake
 * Discord server and Matrix homeserver in this process):
 *
 * - fan-out: 1,000 digests due at one second (500 Discord in 50 channels, 500 Matrix in 50 rooms) with 1 and with
 *   3 replicas: time from the slot to the last post per platform, and the most Discord posts in any one second
 *   (Discord's global limit is 50 per second per bot, across every replica).
 * - takeover: SIGKILL of the replica holding the gateway (then of the one holding Matrix): time until another
 *   replica's /readyz lists the role, at the production lease (REPLICA_LEASE_SECONDS default).
 * - interactions: signed POST /interactions round trips spread over 3 replicas, p50/p99.
 *
 *   npm run build && tsc -p tsconfig.bench.json && node dist-bench/test/bench/replicas.js [--fanout-only]
 *
 * BENCH_DEBUG=1 also prints, per platform and replica, how many slots it claimed and when (from the deliveries
 * table): where a fan-out's time goes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { appKeys, interaction, postInteraction } from '../fakes/discord/http-interactions.js';
import { startFakeDiscord } from '../fakes/discord/server.js';
import { startFakeMatrix } from '../fakes/matrix/server.js';
import { seedDueDigestsPg } from '../support/due-digests.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { startReplica, until, type Replica } from '../support/replicas.js';
import { DIGEST_PACE } from '../../src/app.js';
import { PRODUCTION_NODE_FLAGS } from './process.js';
import { percentile, round } from './stats.js';

const MEMBERS = ['@alice:fake.local', '@bob:fake.local'];
let dbs = 0;

export interface ReplicaFanout {
  replicas: number;
  subscriptions: number;
  deliver_all_ms: number;
  discord_all_ms: number;
  matrix_all_ms: number;
  /** Most Discord posts that arrived within any one second. */
  discord_max_per_s: number;
  /** From the slot to the first post on each platform. */
  discord_first_ms: number;
  matrix_first_ms: number;
  /**
   * How far the k-th Discord post arrived behind a sender that starts at the slot and posts at the pace budget
   * (40/s): max over k of (arrival − slot − k / 40 s). At most 3,000 means every post left within 3 s of when
   * Discord's global budget let it.
   */
  discord_behind_budget_ms: number;
}

/** Max over k of (t_k − k·1000/perSecond), for arrival times t (ms after the slot). */
export function behindBudget(at: number[], perSecond: number): number {
  const t = [...at].sort((a, b) => a - b);
  return t.reduce((worst, x, k) => Math.max(worst, x - (k * 1000) / perSecond), Number.NEGATIVE_INFINITY);
}

async function stopAll(rs: Replica[]): Promise<void> {
  for (const r of rs) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
  await Promise.all(rs.map((r) => r.exited));
}

/** The most timestamps (ms) within any window of 1,000 ms. */
function maxPerSecond(at: number[]): number {
  const t = [...at].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; j < t.length; j++) {
    while (t[j]! - t[i]! >= 1000) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

export async function measureReplicaFanout(pgServer: TestPostgres, replicas: number, subscriptions = 1000): Promise<ReplicaFanout> {
  const discord = await startFakeDiscord();
  const matrix = await startFakeMatrix({ timelineLimit: 50, recordRequests: false });
  const dataDir = mkdtempSync(join(tmpdir(), 'ksb-bench-rep-'));
  const rs: Replica[] = [];
  try {
    const url = await pgServer.createDatabase(`fan${++dbs}`);
    const perPlatform = subscriptions / 2;
    const groups = Math.ceil(perPlatform / 10);
    const channels = Array.from({ length: groups }, (_, i) => discord.addTextChannel(`digest-${i}`));
    const rooms = Array.from({ length: groups }, () => matrix.createRoom({ members: MEMBERS }));
    const slot = Math.ceil(Date.now() / 1000) * 1000 + 45_000; // three processes may take 20 s to start on a loaded machine
    await seedDueDigestsPg(url, { count: subscriptions, slot, idPrefix: 'fan', discordChannels: channels, matrixRooms: rooms });
    const env = {
      DATABASE_URL: url,
      DISCORD_TOKEN: discord.token,
      DISCORD_API_URL: discord.apiUrl,
      MATRIX_HOMESERVER_URL: matrix.url,
      MATRIX_ACCESS_TOKEN: matrix.accessToken,
      DATA_DIR: dataDir,
      HTTP_PORT: '0',
    };
    for (let i = 0; i < replicas; i++) rs.push(startReplica(env, PRODUCTION_NODE_FLAGS));
    await until('replicas listening', () => rs.every((r) => r.url() !== ''), 60_000, rs);
    if (Date.now() > slot) throw new Error('the replicas started too late for the slot');
    const posts = () => discord.requests.filter((r) => r.method === 'POST' && r.status === 200 && /^\/channels\/\d+\/messages$/.test(r.path) && r.body?.nonce);
    const matrixPosts = () => matrix.sent.filter((e) => e.txnId.startsWith('digest-')).length;
    let discordDone = 0;
    let matrixDone = 0;
    await until(
      'every digest posted',
      () => {
        const now = Date.now() - slot;
        if (!discordDone && posts().length >= perPlatform) discordDone = now;
        if (!matrixDone && matrixPosts() >= perPlatform) matrixDone = now;
        return Boolean(discordDone && matrixDone);
      },
      180_000,
      rs,
    );
    if (process.env.BENCH_DEBUG) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      const q = await c.query(
        `SELECT s.platform, d.holder, count(*)::int n, min(d.claimed_at - $1)::int first_claim, max(d.claimed_at - $1)::int last_claim,
        avg(d.finished_at - d.claimed_at)::int claim_to_finish, max(d.finished_at - d.claimed_at)::int max_claim_to_finish, max(d.finished_at - $1)::int last_finish
        FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id GROUP BY 1, 2 ORDER BY 1, 2`,
        [slot],
      );
      process.stderr.write(`${JSON.stringify(q.rows)}\n`);
      await c.end();
    }
    // Arrival times are performance.now(); as ms after the slot:
    const sinceSlot = (at: number) => at - (slot - Date.now() + performance.now());
    const discordAt = posts().map((r) => sinceSlot(r.at));
    const matrixAt = matrix.sent.filter((e) => e.txnId.startsWith('digest-')).map((e) => sinceSlot(e.at));
    return {
      replicas,
      subscriptions,
      discord_first_ms: round(Math.min(...discordAt), 0),
      matrix_first_ms: round(Math.min(...matrixAt), 0),
      discord_behind_budget_ms: round(behindBudget(discordAt, DIGEST_PACE.discord!.perSecond!), 0),
      deliver_all_ms: Math.max(discordDone, matrixDone),
      discord_all_ms: discordDone,
      matrix_all_ms: matrixDone,
      discord_max_per_s: maxPerSecond(posts().map((r) => r.at)),
    };
  } finally {
    await stopAll(rs);
    await Promise.allSettled([discord.close(), matrix.close()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export interface ReplicaRoles {
  lease_seconds: number;
  gateway_takeover_ms: number;
  matrix_takeover_ms: number;
  /** Signed POST /interactions spread over the 3 replicas, answered in the HTTP response. */
  interactions: { p50: number; p99: number; n: number };
  /** The same command through the gateway held by one of the 3 replicas (INTERACTION_CREATE → callback), alternating with the above. */
  gateway_path: { p50: number; p99: number; n: number };
}

async function roleHolder(rs: Replica[], role: string): Promise<Replica | undefined> {
  for (const r of rs) {
    if (r.child.exitCode !== null || r.child.signalCode !== null) continue;
    const body = (await fetch(`${r.url()}/readyz`)
      .then((res) => res.json())
      .catch(() => ({}))) as { roles?: string[] };
    if (body.roles?.includes(role)) return r;
  }
  return undefined;
}

/** Time from SIGKILL of `role`'s holder until another replica lists it. */
async function takeover(rs: Replica[], role: string): Promise<number> {
  await until(`${role} held`, async () => Boolean(await roleHolder(rs, role)), 120_000, rs);
  const holder = (await roleHolder(rs, role))!;
  holder.child.kill('SIGKILL');
  const t = performance.now();
  await holder.exited;
  await until(`another replica to take ${role}`, async () => Boolean(await roleHolder(rs, role)), 120_000, rs);
  return round(performance.now() - t, 0);
}

export async function measureReplicaRoles(pgServer: TestPostgres, rtts = 300): Promise<ReplicaRoles> {
  const discord = await startFakeDiscord();
  const matrix = await startFakeMatrix({ timelineLimit: 50, recordRequests: false });
  const dataDir = mkdtempSync(join(tmpdir(), 'ksb-bench-roles-'));
  const keys = appKeys();
  const rs: Replica[] = [];
  try {
    const url = await pgServer.createDatabase(`roles${++dbs}`);
    const env = {
      DATABASE_URL: url,
      DISCORD_TOKEN: discord.token,
      DISCORD_API_URL: discord.apiUrl,
      DISCORD_PUBLIC_KEY: keys.publicKeyHex,
      MATRIX_HOMESERVER_URL: matrix.url,
      MATRIX_ACCESS_TOKEN: matrix.accessToken,
      DATA_DIR: dataDir,
      HTTP_PORT: '0',
      RATE_LIMIT_BURST: '1000',
      RATE_LIMIT_PER_MINUTE: '60000',
    };
    for (let i = 0; i < 3; i++) rs.push(startReplica(env, PRODUCTION_NODE_FLAGS));
    await until('replicas listening', () => rs.every((r) => r.url() !== ''), 60_000, rs);
    await until('both roles held', async () => Boolean((await roleHolder(rs, 'gateway')) && (await roleHolder(rs, 'matrix'))), 60_000, rs);
    await discord.waitForReady(1);
    const samples: number[] = [];
    const viaGateway: number[] = [];
    for (let i = 0; i < rtts + 30; i++) {
      const body = interaction({ type: 2, name: 'status', options: [{ name: 'topic', type: 3, value: 'fs' }] });
      const t = performance.now();
      const a = await postInteraction(rs[i % 3]!.url(), body, keys);
      if (a.status !== 200 || a.json.type !== 4) throw new Error(`interaction answered ${a.status}`);
      if (i >= 30) samples.push(performance.now() - t);
      // Alternating, so both paths see the same load.
      const sentAt = performance.now();
      const cb = await discord.sendInteraction({ commandName: 'status', options: [{ name: 'topic', type: 3, value: 'fs' }] }).callback;
      if (cb.status !== 204) throw new Error(`gateway interaction callback answered ${cb.status}`);
      if (i >= 30) viaGateway.push(cb.at - sentAt);
    }
    const gateway = await takeover(rs, 'gateway');
    const matrixMs = await takeover(rs, 'matrix');
    return {
      lease_seconds: 20,
      gateway_takeover_ms: gateway,
      matrix_takeover_ms: matrixMs,
      interactions: { p50: round(percentile(samples, 50), 2), p99: round(percentile(samples, 99), 2), n: samples.length },
      gateway_path: { p50: round(percentile(viaGateway, 50), 2), p99: round(percentile(viaGateway, 99), 2), n: viaGateway.length },
    };
  } finally {
    await stopAll(rs);
    await Promise.allSettled([discord.close(), matrix.close()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Everything above on one PostgreSQL server. */
export async function measureReplicas(): Promise<{ fanout: ReplicaFanout[]; roles: ReplicaRoles }> {
  const pgServer = await startPostgres();
  try {
    const fanout: ReplicaFanout[] = [];
    for (const n of [1, 3]) {
      fanout.push(await measureReplicaFanout(pgServer, n));
      process.stderr.write(`${JSON.stringify(fanout.at(-1))}\n`);
    }
    if (process.argv.includes('--fanout-only')) return { fanout, roles: undefined as unknown as ReplicaRoles };
    const roles = await measureReplicaRoles(pgServer);
    return { fanout, roles };
  } finally {
    await pgServer.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await measureReplicas(), null, 2));
  process.exit(0);
}
