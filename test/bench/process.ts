/**
 * Measurements of the built bot as it runs in production: one child process (`node dist/src/main.js`) with
 * both chat adapters connected to the fake Discord server and the fake Matrix homeserver of test/fakes/,
 * which run in this process.
 *
 * - measureRss: resident memory after 1,000 handled messages (500 slash commands on Discord, 500 room
 *   messages on Matrix, end-to-end encrypted by a test user's real device; commands and questions), once the
 *   bot is idle again. Read from /proc/<pid>/status.
 * - measureFanout: 1,000 digest subscriptions due at the same second (500 on Discord in 50 channels, 500 on
 *   Matrix in 50 rooms): time from the slot to the last post reaching the fakes, and the round trip of
 *   commands sent meanwhile compared with the same commands while idle.
 *
 *   npm run build && node --import tsx test/bench/process.ts   # prints both as JSON
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/server.js';
import { startFakeMatrix, type FakeMatrix } from '../fakes/matrix/server.js';
import { seedDueDigests } from '../support/due-digests.js';
import { waitForListeningPort } from '../support/listening.js';
import { TestDevice } from '../support/matrix-device.js';
import { cleanEnv } from '../support/spawn.js';
import { percentile, round } from './stats.js';

const MEMBERS = ['@alice:fake.local', '@bob:fake.local'];

/** The V8 flags production runs with: `npm start` and the image's NODE_OPTIONS (test/unit/node-flags.test.ts keeps the three equal). */
export const PRODUCTION_NODE_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=256', '--v8-pool-size=1'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ChildBot {
  child: ChildProcess;
  port: number;
  stop(): Promise<number | null>;
}

/**
 * Spawns the built bot against both fakes (its HTTP listener on a port the system picks) and resolves once /readyz
 * says both adapters are connected.
 */
async function startChild(discord: FakeDiscord, matrix: FakeMatrix, dataDir: string, extraEnv: Record<string, string> = {}): Promise<ChildBot> {
  const child = spawn(process.execPath, [...PRODUCTION_NODE_FLAGS, 'dist/src/main.js'], {
    env: cleanEnv({
      LOG_LEVEL: 'warn',
      DISCORD_TOKEN: discord.token,
      DISCORD_API_URL: discord.apiUrl,
      MATRIX_HOMESERVER_URL: matrix.url,
      MATRIX_ACCESS_TOKEN: matrix.accessToken,
      DATA_DIR: dataDir,
      HTTP_PORT: '0',
      RATE_LIMIT_BURST: '1000',
      RATE_LIMIT_PER_MINUTE: '60000',
      ...extraEnv,
    }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let logs = '';
  child.stderr!.on('data', (d) => (logs += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const end = Date.now() + 60_000;
  // At LOG_LEVEL=warn the bot does not log its "http listening" line: the port is read from /proc.
  const port = await waitForListeningPort(child.pid!, 60_000, () => child.exitCode === null).catch((err: Error) => {
    throw new Error(`${err.message}: ${logs}`);
  });
  for (;;) {
    if (child.exitCode !== null) throw new Error(`bot exited: ${logs}`);
    if (Date.now() > end) throw new Error(`bot not ready after 60 s: ${logs}`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await sleep(50);
  }
  return {
    child,
    port,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** One Discord slash command round trip (interaction sent → callback received), ms. */
async function discordCommand(fake: FakeDiscord, name: string, options: { name: string; value: string }[]): Promise<number> {
  const t = performance.now();
  const { callback } = fake.sendInteraction({ commandName: name, options: options.map((o) => ({ ...o, type: 3 })) });
  const req = await callback;
  if (req.status !== 204) throw new Error(`interaction callback ${req.status}`);
  return req.at - t;
}

/** One Matrix message round trip (message stored → the bot's reply to it stored), ms; encrypted beforehand when `device` is given. */
async function matrixCommand(fake: FakeMatrix, room: string, body: string, device?: TestDevice): Promise<number> {
  const content = device ? await device.encrypt(room, { msgtype: 'm.text', body }) : undefined;
  const t = performance.now();
  const asked = device ? fake.sendEvent(room, { sender: device.userId, type: 'm.room.encrypted', content }) : fake.sendText(room, MEMBERS[0]!, body);
  const reply = await fake.waitForSent((e) => e.content?.['m.relates_to']?.['m.in_reply_to']?.event_id === asked, 10_000);
  if (device && reply.type !== 'm.room.encrypted') throw new Error('plaintext reply in an encrypted room');
  return reply.at - t;
}

const DISCORD_MIX: [string, { name: string; value: string }[]][] = [
  ['status', [{ name: 'topic', value: 'fs' }]],
  ['ask', [{ name: 'question', value: 'what is happening with btrfs?' }]],
  ['topics', []],
  ['ask', [{ name: 'question', value: 'is the realtime patch set merged yet' }]],
];
const MATRIX_MIX = ['!status fs', '!ask what is happening with btrfs?', '!topics', 'kbot: is PREEMPT_RT merged?'];

function vm(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for ${pid}`);
  return round(Number(m[1]) / 1024, 1);
}

/** RSS (MB) of the bot with both adapters connected and Matrix encryption on, idle, after `messages` handled messages. */
export async function measureRss(
  messages = 1000,
  env: Record<string, string> = {},
): Promise<{ rss_mb: number; peak_rss_mb: number; rss_at_ready_mb: number; messages: number }> {
  const discord = await startFakeDiscord();
  const matrix = await startFakeMatrix({ timelineLimit: 50, recordRequests: false });
  const dataDir = mkdtempSync(join(tmpdir(), 'ksb-bench-rss-'));
  try {
    const encrypted = env.MATRIX_E2EE !== 'false';
    const room = matrix.createRoom({ members: MEMBERS, encrypted });
    const asker = encrypted ? await TestDevice.create(matrix, MEMBERS[0]!) : undefined;
    const bot = await startChild(discord, matrix, dataDir, env);
    try {
      await sleep(1000);
      const atReady = vm(bot.child.pid!, 'VmRSS');
      for (let i = 0; i < messages / 2; i++) {
        const [name, options] = DISCORD_MIX[i % DISCORD_MIX.length]!;
        await discordCommand(discord, name, options);
        await matrixCommand(matrix, room, MATRIX_MIX[i % MATRIX_MIX.length]!, asker);
      }
      await sleep(3000); // idle (waiting 10 or 30 s instead measured the same)
      return { rss_mb: vm(bot.child.pid!, 'VmRSS'), peak_rss_mb: vm(bot.child.pid!, 'VmHWM'), rss_at_ready_mb: atReady, messages };
    } finally {
      await bot.stop();
      asker?.close();
    }
  } finally {
    await Promise.allSettled([discord.close(), matrix.close()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export interface FanoutResult {
  subscriptions: number;
  /** From the slot to the last digest post received by the fakes. */
  deliver_all_ms: number;
  discord_all_ms: number;
  matrix_all_ms: number;
  /** Command round trips (Discord slash + Matrix message, alternating) while idle and during the fan-out. */
  command_idle: { p50: number; p99: number; n: number };
  command_during: { p50: number; p99: number; max: number; n: number };
}

/** `subscriptions` digests due at one second, half on each platform, 10 per channel or room. */
export async function measureFanout(subscriptions = 1000): Promise<FanoutResult> {
  const discord = await startFakeDiscord();
  const matrix = await startFakeMatrix({ timelineLimit: 50, recordRequests: false });
  const dataDir = mkdtempSync(join(tmpdir(), 'ksb-bench-fanout-'));
  try {
    const perPlatform = subscriptions / 2;
    const groups = Math.ceil(perPlatform / 10);
    const channels = Array.from({ length: groups }, (_, i) => discord.addTextChannel(`digest-${i}`));
    const rooms = Array.from({ length: groups }, () => matrix.createRoom({ members: MEMBERS }));
    const commandRoom = matrix.createRoom({ members: MEMBERS });

    const slot = Math.ceil(Date.now() / 1000) * 1000 + 12_000;
    seedDueDigests({ file: join(dataDir, 'digests.sqlite'), count: subscriptions, slot, idPrefix: 'fan', discordChannels: channels, matrixRooms: rooms });

    const bot = await startChild(discord, matrix, dataDir);
    try {
      const command = async (i: number) => {
        const [name, options] = DISCORD_MIX[i % DISCORD_MIX.length]!;
        return i % 2 === 0 ? discordCommand(discord, name, options) : matrixCommand(matrix, commandRoom, MATRIX_MIX[i % MATRIX_MIX.length]!);
      };
      for (let i = 0; i < 20; i++) await command(i); // warm-up
      const idle: number[] = [];
      for (let i = 0; Date.now() < slot - 1000 && i < 400; i++) idle.push(await command(i));
      if (Date.now() > slot) throw new Error('the bot started too late for the slot');

      const discordPosts = () =>
        discord.requests.filter((r) => r.method === 'POST' && r.status === 200 && /^\/channels\/\d+\/messages$/.test(r.path) && r.body?.nonce).length;
      const matrixPosts = () => matrix.sent.filter((e) => e.txnId.startsWith('digest-')).length;
      let discordDone = 0;
      let matrixDone = 0;
      const watch = setInterval(() => {
        const now = Date.now() - slot;
        if (!discordDone && discordPosts() >= perPlatform) discordDone = now;
        if (!matrixDone && matrixPosts() >= perPlatform) matrixDone = now;
      }, 5);
      const during: number[] = [];
      const deadline = slot + 120_000;
      while (Date.now() < slot) await sleep(5);
      for (let i = 0; !(discordDone && matrixDone); i++) {
        if (Date.now() > deadline) throw new Error(`fan-out incomplete after 120 s: discord ${discordPosts()}, matrix ${matrixPosts()}`);
        during.push(await command(i));
      }
      clearInterval(watch);
      return {
        subscriptions,
        deliver_all_ms: Math.max(discordDone, matrixDone),
        discord_all_ms: discordDone,
        matrix_all_ms: matrixDone,
        command_idle: { p50: round(percentile(idle, 50), 2), p99: round(percentile(idle, 99), 2), n: idle.length },
        command_during: { p50: round(percentile(during, 50), 2), p99: round(percentile(during, 99), 2), max: round(Math.max(...during), 2), n: during.length },
      };
    } finally {
      await bot.stop();
    }
  } finally {
    await Promise.allSettled([discord.close(), matrix.close()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rss = await measureRss();
  const fanout = await measureFanout();
  console.log(JSON.stringify({ rss, fanout }, null, 2));
  process.exit(0);
}
