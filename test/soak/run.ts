/**
 * Soak: `npm run soak -- --minutes N` runs the BUILT bot (dist/src/main.js, both chat adapters) against the fake
 * Discord and the fake Matrix homeserver for N minutes with a steady mix of slash commands, mentions, Matrix
 * questions and digests (subscriptions every 15 s), while faults are injected at random: gateway closes, REST
 * and homeserver answers 5xx/429 with and without JSON bodies, homeserver outages (connections reset), slow
 * responses. Faults sit in a small HTTP proxy in front of each fake, so the fakes stay faithful. Prints one
 * summary (JSON with `--json`; `--log FILE` keeps the bot's log). Not part of `npm test`.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cron } from 'croner';
import { SqliteDigestStore } from '../../src/store/sqlite-store.js';
import { startFakeDiscord } from '../fakes/discord/server.js';
import { startFakeMatrix } from '../fakes/matrix/server.js';

const args = process.argv.slice(2);
const minutes = Number(args[args.indexOf('--minutes') + 1] ?? 1);
const asJson = args.includes('--json');
/** `--log FILE`: the bot's log (JSON lines) is also written there, for tracing what the summary counts. */
const logFile = args.includes('--log') ? args[args.indexOf('--log') + 1] : undefined;
if (!(minutes > 0)) throw new Error('usage: npm run soak -- --minutes N [--json] [--log FILE]');

const DIGEST_SCHEDULE = '*/15 * * * * *';
const QUESTIONS = [
  '/status fs',
  'what does the talk say about btrfs?',
  'who maintains x86?',
  '/status rt',
  '/topics',
  'is realtime merged?',
  '/status mm',
  'tracing',
];
const rand = (n: number) => Math.floor(Math.random() * n);
const pick = <T>(xs: readonly T[]) => xs[rand(xs.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts of what was injected. */
const faults: Record<string, number> = {};
const count = (what: string) => (faults[what] = (faults[what] ?? 0) + 1);

/**
 * A proxy in front of a fake that answers some requests itself: JSON and non-JSON 5xx, 429s, slow answers,
 * and during an outage resets every connection.
 */
async function faultyProxy(target: number, name: string, o: { errorRate: number; slowRate: number; skip?: (path: string) => boolean }) {
  let down = false;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    if (down) {
      count(`${name} outage reset`);
      req.socket.destroy();
      return;
    }
    const r = Math.random();
    if (!o.skip?.(path) && r < o.errorRate) {
      const kind = rand(4);
      if (kind === 0) {
        count(`${name} 500 json`);
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify(name === 'matrix' ? { errcode: 'M_UNKNOWN', error: 'Internal error' } : { message: 'Internal Server Error', code: 0 }));
      } else if (kind === 1) {
        count(`${name} 502 html`);
        res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body><h1>502 Bad Gateway</h1></body></html>');
      } else if (kind === 2) {
        count(`${name} 503 plain`);
        res.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable');
      } else {
        count(`${name} 429 json`);
        const body =
          name === 'matrix'
            ? { errcode: 'M_LIMIT_EXCEEDED', error: 'Too many requests', retry_after_ms: 200 }
            : { message: 'You are being rate limited.', retry_after: 0.2, global: false };
        res
          .writeHead(429, { 'content-type': 'application/json', ...(name === 'discord' ? { 'retry-after': '1', 'x-ratelimit-scope': 'user' } : {}) })
          .end(JSON.stringify(body));
      }
      req.resume();
      return;
    }
    const delay = !o.skip?.(path) && Math.random() < o.slowRate ? 500 + rand(2000) : 0;
    if (delay) count(`${name} slow`);
    setTimeout(() => {
      const up = request({ host: '127.0.0.1', port: target, method: req.method, path, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    }, delay);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    outage(ms: number) {
      count(`${name} outage`);
      down = true;
      server.closeAllConnections();
      setTimeout(() => (down = false), ms);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : 0;
}

/** The bot's HTTP port, from its "http listening" log line. */
function botPort(logs: string): string | undefined {
  return /"port":(\d+)/.exec(logs.split('\n').find((l) => l.includes('http listening')) ?? '')?.[1];
}

/** One reading of the bot's memory (MB): resident, and from its /metrics the V8 heap in use and the memory outside it. */
interface MemorySample {
  minute: number;
  rss: number;
  heap: number;
  external: number;
}

async function sampleMemory(pid: number, port: string | undefined, minute: number): Promise<MemorySample> {
  const text = port
    ? await fetch(`http://127.0.0.1:${port}/metrics`).then(
        (r) => r.text(),
        () => '',
      )
    : '';
  const mb = (name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Math.round(Number(line.split(' ')[1]) / 104_857.6) / 10 : Number.NaN;
  };
  return { minute, rss: rssMb(pid), heap: mb('nodejs_heap_size_used_bytes'), external: mb('nodejs_external_memory_bytes') };
}

async function main(): Promise<void> {
  const discord = await startFakeDiscord({ interactionDeadlineMs: 3000 });
  const matrix = await startFakeMatrix();
  const dProxy = await faultyProxy(discord.port, 'discord', { errorRate: 0.03, slowRate: 0.02, skip: (p) => p.includes('/gateway') });
  const mProxy = await faultyProxy(matrix.port, 'matrix', { errorRate: 0.03, slowRate: 0.03 });
  const dataDir = mkdtempSync(join(tmpdir(), 'ksb-soak-'));

  // The world: Discord channels and Matrix rooms with users, digests every 15 s in some of them.
  const channels = Array.from({ length: 5 }, (_, i) => discord.addTextChannel(`soak-${i}`));
  const users = Array.from({ length: 200 }, (_, i) => `@user${i}:fake.local`);
  const rooms = Array.from({ length: 5 }, (_, i) => matrix.createRoom({ name: `soak-${i}`, members: users.slice(i * 40, i * 40 + 40) }));
  const store = new SqliteDigestStore(join(dataDir, 'digests.sqlite'));
  const startAt = Date.now();
  const subs: { id: string; platform: string }[] = [];
  for (let i = 0; i < 10; i++) {
    const onDiscord = i % 2 === 0;
    const id = `soak${String(i).padStart(4, '0')}`;
    store.add({
      id,
      platform: onDiscord ? 'discord' : 'matrix',
      channelId: onDiscord ? channels[i % 5]! : rooms[i % 5]!,
      topics: [],
      allTopics: true,
      schedule: DIGEST_SCHEDULE,
      timezone: 'UTC',
      mode: i % 4 < 2 ? 'rotate' : 'board',
      createdBy: 'soak',
      createdAt: startAt,
      position: 0,
      lastSlot: null,
      lastHashes: {},
      enabled: true,
      disabledReason: null,
    });
    subs.push({ id, platform: onDiscord ? 'discord' : 'matrix' });
  }
  store.close();

  const child = spawn(process.execPath, ['--max-semi-space-size=4', '--max-old-space-size=256', 'dist/src/main.js'], {
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      KNOWLEDGE_WATCH: 'false',
      DATA_DIR: dataDir,
      HTTP_PORT: '0',
      DISCORD_TOKEN: discord.token,
      DISCORD_API_URL: `http://127.0.0.1:${dProxy.port}/api`,
      MATRIX_HOMESERVER_URL: `http://127.0.0.1:${mProxy.port}`,
      MATRIX_ACCESS_TOKEN: matrix.accessToken,
      DIGEST_MIN_INTERVAL_SECONDS: '1',
      RATE_LIMIT_BURST: '5',
      RATE_LIMIT_PER_MINUTE: '20',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let logs = '';
  child.stderr!.on('data', (d) => {
    if (logFile) appendFileSync(logFile, d);
    logs += d;
    if (logs.length > 50_000_000) logs = logs.slice(-10_000_000);
  });
  let exitCode: number | null = null;
  child.on('exit', (code) => (exitCode = code));
  await discord.waitForReady(1, 60_000);
  await matrix.waitForSync(1, 60_000);
  const rssStart = rssMb(child.pid!);
  // The bot's memory once a minute: a rise that lasts is a leak, where start and end alone cannot tell it from the heap's breathing.
  const loadStartedAt = Date.now();
  const memory = [await sampleMemory(child.pid!, botPort(logs), 0)];

  // Steady load: about 6 questions a second from many users, spread over the three kinds.
  const asked = { slash: 0, mention: 0, matrix: 0 };
  const callbacks: Promise<unknown>[] = [];
  const mentionIds = new Set<string>();
  const matrixIds = new Set<string>();
  const end = Date.now() + minutes * 60_000;
  let nextFault = Date.now() + 10_000;
  while (Date.now() < end && exitCode === null) {
    const kind = rand(3);
    if (kind === 0) {
      asked.slash++;
      const q = pick(['fs', 'mm', 'rt', 'kvm', 'tracing', 'x86']);
      const i = discord.sendInteraction({
        commandName: 'status',
        options: [{ name: 'topic', type: 3, value: q }],
        channelId: pick(channels),
        user: { id: String(10_000_000_000_000_000n + BigInt(rand(200))) },
      });
      callbacks.push(i.callback.catch(() => undefined));
    } else if (kind === 1) {
      asked.mention++;
      const m = discord.sendUserMessage({
        content: pick(QUESTIONS),
        channelId: pick(channels),
        mentionsBot: true,
        author: { id: String(20_000_000_000_000_000n + BigInt(rand(200))) },
      });
      mentionIds.add(m.id);
    } else {
      asked.matrix++;
      const r = rand(rooms.length);
      matrixIds.add(matrix.sendText(rooms[r]!, users[r * 40 + rand(40)]!, `kbot: ${pick(QUESTIONS)}`));
    }
    if (Date.now() > nextFault) {
      const f = rand(3);
      if (f === 0) {
        count('discord gateway close');
        discord.dropGateway({ resumable: Math.random() < 0.7 });
      } else if (f === 1) mProxy.outage(3000 + rand(7000));
      else dProxy.outage(1000 + rand(2000));
      nextFault = Date.now() + 15_000 + rand(30_000);
    }
    if (Date.now() - loadStartedAt >= memory.length * 60_000) {
      memory.push(await sampleMemory(child.pid!, botPort(logs), Math.round((Date.now() - loadStartedAt) / 60_000)));
    }
    await sleep(160);
  }
  const loadStoppedAt = Date.now();
  await sleep(15_000); // let answers and the last digests arrive
  const exitDuringRun = exitCode;
  const rssEnd = exitCode === null ? rssMb(child.pid!) : 0;

  // Answers: Discord interaction callbacks and message replies, Matrix replies.
  const answeredSlash = discord.requests.filter(
    (r) => r.method === 'POST' && /^\/interactions\/\d+\/[^/]+\/callback$/.test(r.path) && (r.status ?? 500) < 300,
  ).length;
  const answeredMentions = new Set(
    discord.requests
      .filter((r) => r.method === 'POST' && (r.status ?? 500) < 300 && mentionIds.has(String(r.body?.message_reference?.message_id ?? '')))
      .map((r) => r.body.message_reference.message_id),
  ).size;
  const answeredMatrix = new Set(matrix.sent.map((e) => e.content?.['m.relates_to']?.['m.in_reply_to']?.event_id).filter((id) => matrixIds.has(id))).size;

  // Digests: slots due while the bot ran, and what the platforms show (one message per idempotency key is right).
  // Slots up to the end of the load are due (the 15 s after it leave time for retries); later ones are not counted.
  const dueSlots = new Cron(DIGEST_SCHEDULE, { paused: true, timezone: 'UTC', mode: '5-or-6-parts' })
    .nextRuns(100_000, new Date(startAt))
    .filter((d) => d.getTime() <= loadStoppedAt);
  const slots = dueSlots.length;
  const slotOf = (key: string) => Number.parseInt(key.split('-').pop()!, 36);
  const discordDigests = channels.flatMap((c) => discord.channelMessages(c)).filter((m) => typeof m.nonce === 'string' && m.nonce.startsWith('soak'));
  const matrixDigests = matrix.sent.filter((e) => e.txnId.startsWith('digest-soak'));
  const keys = [...discordDigests.map((m) => m.nonce as string), ...matrixDigests.map((e) => e.txnId.slice('digest-'.length))].filter(
    (k) => slotOf(k) <= loadStoppedAt,
  );
  const unique = new Set(keys);
  // Each due slot without a post: which subscription, when, and how long before the end of the load.
  const missing = subs.flatMap((sub) =>
    dueSlots
      .filter((d) => !unique.has(`${sub.id}-${d.getTime().toString(36)}`.slice(0, 25)))
      .map((d) => ({ subscription: sub.id, platform: sub.platform, slot: d.toISOString(), beforeEndMs: loadStoppedAt - d.getTime() })),
  );

  let metrics = '';
  const port = botPort(logs);
  if (port && exitCode === null) metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text().catch(() => '');
  const sum = (re: RegExp) =>
    metrics
      .split('\n')
      .filter((l) => re.test(l))
      .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  const logLines = logs
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      try {
        return JSON.parse(l) as { level: number; msg: string };
      } catch {
        return { level: 0, msg: l };
      }
    });
  const unhandled = logLines.filter((l) => /unhandled|uncaught/i.test(l.msg)).length;
  const errorKinds: Record<string, number> = {};
  for (const l of logLines.filter((x) => x.level >= 50)) {
    const kind = l.msg.replace(/\(REQ-\d+\) /, '').slice(0, 80);
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  }

  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => (exitCode !== null ? resolve(exitCode) : child.on('exit', (c) => resolve(c))));
  const summary = {
    minutes,
    questions: {
      asked: asked.slash + asked.mention + asked.matrix,
      answered: answeredSlash + answeredMentions + answeredMatrix,
      shed: sum(/^kbot_\w*shed\w*(\{[^}]*\})? \d/) + sum(/^kbot_messages_total\{[^}]*outcome="(shed|dropped)"/),
      rateLimited: sum(/^kbot_rate_limited_total\{/),
      byKind: { slash: [asked.slash, answeredSlash], mention: [asked.mention, answeredMentions], matrix: [asked.matrix, answeredMatrix] },
      /** Matrix events the homeserver's incremental syncs cut off (timeline `limited: true`): the bot never saw them. */
      matrixCutFromSync: matrix.droppedSyncEvents,
    },
    digests: {
      due: slots * subs.length,
      posted: unique.size,
      duplicated: keys.length - unique.size,
      missing: missing.slice(0, 20),
      outcomes: Object.fromEntries(
        metrics
          .split('\n')
          .filter((l) => l.startsWith('kbot_digest_deliveries_total{'))
          .map((l) => [/outcome="([^"]+)"/.exec(l)![1], Number(l.split(' ').pop())]),
      ),
    },
    rssMb: { start: rssStart, end: rssEnd },
    memory,
    unhandledErrors: unhandled,
    errorLogLines: errorKinds,
    exit: { duringRun: exitDuringRun, onSigterm: code },
    faults,
  };
  if (asJson) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    const q = summary.questions;
    const d = summary.digests;
    process.stdout.write(
      [
        `soak: ${minutes} min, built bot with both adapters against the fakes, faults injected: ${Object.values(faults).reduce((a, b) => a + b, 0)}`,
        `questions asked ${q.asked} / answered ${q.answered} / shed ${q.shed} (rate-limited ${q.rateLimited}; slash ${q.byKind.slash.join('/')}, mentions ${q.byKind.mention.join('/')}, matrix ${q.byKind.matrix.join('/')})`,
        `digests due ${d.due} / posted ${d.posted} / duplicated ${d.duplicated} (outcomes ${JSON.stringify(d.outcomes)})${d.missing.length ? `; not posted: ${JSON.stringify(d.missing)}` : ''}`,
        `RSS start ${summary.rssMb.start} MB / end ${summary.rssMb.end} MB`,
        `memory (minute: RSS / heap / external MB): ${memory.map((m) => `${m.minute}: ${m.rss} / ${m.heap} / ${m.external}`).join(', ')}`,
        `unhandled errors ${summary.unhandledErrors}; exit during run: ${summary.exit.duringRun ?? 'none'}, on SIGTERM: ${summary.exit.onSigterm}`,
        `error log lines: ${JSON.stringify(summary.errorLogLines)}`,
        `faults: ${JSON.stringify(faults)}`,
      ].join('\n') + '\n',
    );
  }
  await Promise.allSettled([dProxy.close(), mProxy.close()]);
  await Promise.allSettled([discord.close(), matrix.close()]);
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`soak failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
