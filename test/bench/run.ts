/**
 * `npm run bench`: a readable table; `npm run --silent bench -- --json`: one JSON object on stdout.
 * Core and scale run in this process; end-to-end round trips go through the real SDKs and the fake
 * servers; start-up is a fresh process. Warm-up iterations are excluded from every percentile.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCommands } from '../../src/core/registry.js';
import { Bot } from '../../src/core/bot.js';
import { KnowledgeBase } from '../../src/knowledge/base.js';
import { createLogger } from '../../src/log.js';
import { accuracy, loadQuestions, type Figures } from '../support/quality.js';
import { SearchIndex } from '../../src/knowledge/search.js';
import { cleanEnv } from '../support/spawn.js';
import { measureDiscordRoundTrip } from './discord-rtt.js';
import { measureFirstAnswerAfterJoin, measureMatrixEncryptedRoundTrip } from './matrix-e2ee.js';
import { measureMatrixRoundTrip } from './matrix-rtt.js';
import { measureFanout, measureRss, PRODUCTION_NODE_FLAGS } from './process.js';
import { measurePeers, type PeerRow } from './peers.js';
import { measureReplicas } from './replicas.js';
import { benchQuestions, measureScale, scaledKnowledge } from './scale.js';
import { percentile, round, timeIt } from './stats.js';

const json = process.argv.includes('--json');
const say = (s: string) => (json ? process.stderr.write(`${s}\n`) : process.stdout.write(`${s}\n`));

async function core() {
  const bot = new Bot({
    commands: await loadCommands(),
    knowledge: new KnowledgeBase('knowledge'),
    logger: createLogger('info', '/dev/null'),
    rateLimit: { burst: 1e9, perMinute: 1e9 },
  });
  const m = (text: string) => ({ platform: 'bench', text, userId: 'u', channelId: 'c', addressed: true });
  const questions = loadQuestions()
    .filter((q) => !q.q.startsWith('/status'))
    .map((q) => q.q);
  const status = await timeIt(20_000, 2000, () => bot.handle(m('/status fs'), ['/']));
  const question = await timeIt(20_000, 2000, (i) => bot.handle(m(questions[i % questions.length]!), ['/']));
  const mix = ['/status fs', '/status', '/topics', ...questions];
  const t = performance.now();
  let n = 0;
  while (performance.now() - t < 2000) await bot.handle(m(mix[n++ % mix.length]!), ['/']);
  return {
    status: { p50: round(percentile(status, 50), 4), p99: round(percentile(status, 99), 4) },
    question: { p50: round(percentile(question, 50), 4), p99: round(percentile(question, 99), 4) },
    throughput_per_s: Math.round(n / ((performance.now() - t) / 1000)),
  };
}

/** The peers next to our engine: accuracy on both sets at one talk, then speed and heap at each scale. */
async function measurePeersAllScales(
  scale: { talks: number; build_ms: number; question_p50: number; question_p99: number; heap_mb: number }[],
): Promise<{ accuracy: Record<string, unknown>[]; speed: PeerRow[] }> {
  const sets = { words: loadQuestions('words'), chat: loadQuestions('chat') };
  const questions = benchQuestions();
  const speed: PeerRow[] = [];
  const accuracyRows: Record<string, unknown>[] = [];
  const ours = new SearchIndex(scaledKnowledge(1));
  const oursWords = accuracy(ours, sets.words).figures;
  const oursChat = accuracy(ours, sets.chat).figures;
  accuracyRows.push({ engine: 'kernel-status-bot', words: oursWords, chat: oursChat });
  say('peers: accuracy at 1 talk (%: right = top-1 topic and expected point; top1; point among the cited; out-of-scope declined; in-scope declined)');
  say('engine               words: right top1 point decl_out decl_in   chat: right top1 point decl_out decl_in');
  const line = (name: string, w: Figures, c: Figures) =>
    say(
      `${name.padEnd(20)} ${[w.accuracy, w.top1, w.point, w.declined_out, w.declined_in].map((x) => String(x).padStart(6)).join('')}   ${[c.accuracy, c.top1, c.point, c.declined_out, c.declined_in].map((x) => String(x).padStart(6)).join('')}`,
    );
  line('kernel-status-bot', oursWords, oursChat);
  for (const talks of [1, 10, 100, 1000]) {
    const k = scaledKnowledge(talks);
    const rows = await measurePeers(k, talks, questions, sets, talks >= 1000 ? 30_000 : 10_000);
    for (const r of rows) {
      if (r.words && r.chat) {
        accuracyRows.push({ engine: r.peer, words: r.words, chat: r.chat });
        line(r.peer, r.words, r.chat);
      }
    }
    speed.push(...rows);
  }
  say('peers: speed (ms) and heap (MB) at each scale (build: ours the median of the scale step, each peer one build)');
  say('engine               talks  build_ms  question_p50  question_p99  heap_mb  (questions timed)');
  for (const talks of [1, 10, 100, 1000]) {
    const o = scale.find((s) => s.talks === talks)!;
    say(
      `${'kernel-status-bot'.padEnd(20)} ${String(talks).padStart(5)}  ${String(o.build_ms).padStart(8)}  ${String(o.question_p50).padStart(12)}  ${String(o.question_p99).padStart(12)}  ${String(o.heap_mb).padStart(7)}`,
    );
    for (const r of speed.filter((x) => x.talks === talks)) {
      say(
        `${r.peer.padEnd(20)} ${String(talks).padStart(5)}  ${String(r.build_ms).padStart(8)}  ${String(r.question_p50).padStart(12)}  ${String(r.question_p99).padStart(12)}  ${String(r.heap_mb).padStart(7)}  (${r.questions})`,
      );
    }
  }
  return { accuracy: accuracyRows, speed: speed.map(({ words: _w, chat: _c, ...r }) => r) };
}

/** A fresh console process's first answer (ms), in a DATA_DIR of its own; rejects if the process ends without one. */
function firstAnswerMs(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ksb-bench-start-'));
  return new Promise<number>((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, [...PRODUCTION_NODE_FLAGS, 'dist/src/main.js'], {
      env: cleanEnv({ LOG_LEVEL: 'warn', DATA_DIR: dataDir }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.once('data', () => resolve(performance.now() - t));
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`the console bot exited (${code}) before answering: ${stderr.trim()}`)));
    child.stdin.end('/status fs\n');
  }).finally(() => rmSync(dataDir, { recursive: true, force: true }));
}

async function main() {
  say('kernel-status-bot benchmark (times in ms; warm-up excluded)');
  const c = await core();
  say(
    `core: status p50 ${c.status.p50} p99 ${c.status.p99} · question p50 ${c.question.p50} p99 ${c.question.p99} · ${c.throughput_per_s} msg/s (20,000 iterations each)`,
  );
  const scale = [];
  say('talks  points  build_ms  status_p99  question_p50  question_p99  accuracy  accuracy_chat  heap_mb');
  for (const talks of [1, 10, 100, 1000]) {
    const { samples, ...row } = await measureScale(talks);
    scale.push(row);
    say(
      `${String(talks).padStart(5)}  ${String(row.points).padStart(6)}  ${String(row.build_ms).padStart(8)}  ${String(row.status_p99).padStart(10)}  ${String(row.question_p50).padStart(12)}  ${String(row.question_p99).padStart(12)}  ${String(row.accuracy).padStart(8)}  ${String(row.accuracy_chat).padStart(13)}  ${String(row.heap_mb).padStart(7)}   (builds ${Math.min(...row.build_runs_ms)}–${Math.max(...row.build_runs_ms)}, median of ${row.build_runs_ms.length}; samples: ${samples.status} status, ${samples.question} questions)`,
    );
  }
  const peers = await measurePeersAllScales(scale);
  const discord = await measureDiscordRoundTrip(200);
  say(`e2e discord /status fs: bot p50 ${discord.bot_p50} · pong p50 ${discord.pong_p50} · ratio ${discord.ratio} (200 round trips)`);
  const matrix = await measureMatrixRoundTrip(80);
  say(`e2e matrix !status fs: bot p50 ${matrix.bot_p50} · echo p50 ${matrix.echo_p50} · ratio ${matrix.ratio} (80 round trips after 20 warm-up)`);
  const e2ee = await measureMatrixEncryptedRoundTrip(80);
  const joinFirstAnswer = await measureFirstAnswerAfterJoin();
  say(
    `e2e matrix encrypted !status fs: p50 ${e2ee.encrypted_p50} · unencrypted p50 ${e2ee.plain_p50} (same bot and fake) · ratio ${e2ee.ratio} (80 round trips after 20 warm-up); first answer after joining an encrypted room of three: ${joinFirstAnswer} ms`,
  );
  const starts: number[] = [];
  for (let i = 0; i < 5; i++) starts.push(await firstAnswerMs());
  const startup = { console_first_answer_ms: round(percentile(starts, 50), 1) };
  say(`startup: console first answer ${startup.console_first_answer_ms} ms (median of 5 fresh processes)`);
  const rss = await measureRss(1000);
  say(
    `rss: ${rss.rss_mb} MB idle after ${rss.messages} handled messages (Matrix ones encrypted) with both adapters connected and encryption on (${rss.rss_at_ready_mb} MB when ready, peak ${rss.peak_rss_mb} MB)`,
  );
  const fan = await measureFanout(1000);
  say(
    `digest fan-out: ${fan.subscriptions} due at one second delivered in ${fan.deliver_all_ms} ms (Discord ${fan.discord_all_ms}, Matrix ${fan.matrix_all_ms}); ` +
      `commands meanwhile p50 ${fan.command_during.p50} p99 ${fan.command_during.p99} max ${fan.command_during.max} (n ${fan.command_during.n}) vs idle p50 ${fan.command_idle.p50} p99 ${fan.command_idle.p99}`,
  );
  const rep = await measureReplicas();
  for (const f of rep.fanout) {
    say(
      `replicas ${f.replicas} on PostgreSQL: ${f.subscriptions} digests due at one second delivered in ${f.deliver_all_ms} ms (Discord ${f.discord_all_ms}, Matrix ${f.matrix_all_ms}); ` +
        `first post ${f.discord_first_ms} ms (Discord) / ${f.matrix_first_ms} ms (Matrix) after the slot (bound 3,000); Discord posts at most ${f.discord_behind_budget_ms} ms behind a 40/s pace from the slot; ` +
        `at most ${f.discord_max_per_s} Discord posts in one second (global limit 50)`,
    );
  }
  const r = rep.roles;
  say(
    `replicas 3: takeover after SIGKILL (lease ${r.lease_seconds} s): gateway ${r.gateway_takeover_ms} ms, matrix ${r.matrix_takeover_ms} ms; ` +
      `/status fs via POST /interactions p50 ${r.interactions.p50} p99 ${r.interactions.p99} vs via the gateway (same replicas, alternating) p50 ${r.gateway_path.p50} p99 ${r.gateway_path.p99} (n ${r.interactions.n} each; single process gateway path p50 ${round(discord.bot_p50, 2)})`,
  );
  const result = {
    core: c,
    scale,
    peers,
    e2e: {
      discord: { bot_p50: discord.bot_p50, pong_p50: discord.pong_p50, ratio: discord.ratio },
      matrix,
      matrix_e2ee: { ...e2ee, join_first_answer_ms: joinFirstAnswer },
    },
    startup,
    rss_mb: { both_adapters_idle: rss.rss_mb, both_adapters_ready: rss.rss_at_ready_mb, peak: rss.peak_rss_mb },
    digest_fanout: fan,
    replicas: rep,
  };
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

// main() ends with process.exit; an event loop that empties before it means a measurement waits forever.
process.on('beforeExit', () => {
  process.stderr.write('bench failed: a measurement was left waiting on something that will never happen\n');
  process.exit(1);
});

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
