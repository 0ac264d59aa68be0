/**
 * `npm run bench`: a readable table; `npm run --silent bench -- --json`: one JSON object on stdout.
 * Core and scale run in this process; end-to-end round trips go through the real SDKs and the fake
 * servers; start-up is a fresh process. Warm-up iterations are excluded from every percentile.
 */
import { spawn } from 'node:child_process';
import { loadCommands } from '../../src/core/registry.js';
import { Bot } from '../../src/core/bot.js';
import { KnowledgeBase } from '../../src/knowledge/base.js';
import { createLogger } from '../../src/log.js';
import { loadQuestions } from '../support/quality.js';
import { cleanEnv } from '../support/spawn.js';
import { measureDiscordRoundTrip } from './discord-rtt.js';
import { measureFirstAnswerAfterJoin, measureMatrixEncryptedRoundTrip } from './matrix-e2ee.js';
import { measureMatrixRoundTrip } from './matrix-rtt.js';
import { measureFanout, measureRss, PRODUCTION_NODE_FLAGS } from './process.js';
import { measureReplicas } from './replicas.js';
import { measureScale } from './scale.js';
import { percentile, round, timeIt } from './stats.js';

const json = process.argv.includes('--json');
const say = (s: string) => (json ? process.stderr.write(`${s}\n`) : process.stdout.write(`${s}\n`));

async function core() {
  const bot = new Bot({ commands: await loadCommands(), knowledge: new KnowledgeBase('knowledge'), logger: createLogger('info', '/dev/null'), rateLimit: { burst: 1e9, perMinute: 1e9 } });
  const m = (text: string) => ({ platform: 'bench', text, userId: 'u', channelId: 'c', addressed: true });
  const questions = loadQuestions().filter((q) => !q.q.startsWith('/status')).map((q) => q.q);
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

function firstAnswerMs(): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, [...PRODUCTION_NODE_FLAGS, 'dist/src/main.js'], { env: cleanEnv({ LOG_LEVEL: 'warn', DATA_DIR: '/tmp/ksb-bench-data' }), stdio: ['pipe', 'pipe', 'ignore'] });
    child.stdout.once('data', () => resolve(performance.now() - t));
    child.on('error', reject);
    child.stdin.end('/status fs\n');
  });
}

async function main() {
  say('kernel-status-bot benchmark (times in ms; warm-up excluded)');
  const c = await core();
  say(`core: status p50 ${c.status.p50} p99 ${c.status.p99} · question p50 ${c.question.p50} p99 ${c.question.p99} · ${c.throughput_per_s} msg/s (20,000 iterations each)`);
  const scale = [];
  say('talks  points  build_ms  status_p99  question_p99  naive_p99  accuracy  heap_mb');
  for (const talks of [1, 10, 100, 1000]) {
    const { samples, ...row } = await measureScale(talks);
    scale.push(row);
    say(`${String(talks).padStart(5)}  ${String(row.points).padStart(6)}  ${String(row.build_ms).padStart(8)}  ${String(row.status_p99).padStart(10)}  ${String(row.question_p99).padStart(12)}  ${String(row.naive_question_p99).padStart(9)}  ${String(row.accuracy).padStart(8)}  ${String(row.heap_mb).padStart(7)}   (samples: ${samples.status} status, ${samples.question} questions, ${samples.naive} naive)`);
  }
  const discord = await measureDiscordRoundTrip(200);
  say(`e2e discord /status fs: bot p50 ${discord.bot_p50} · pong p50 ${discord.pong_p50} · ratio ${discord.ratio} (200 round trips)`);
  const matrix = await measureMatrixRoundTrip(80);
  say(`e2e matrix !status fs: bot p50 ${matrix.bot_p50} · echo p50 ${matrix.echo_p50} · ratio ${matrix.ratio} (80 round trips after 20 warm-up)`);
  const e2ee = await measureMatrixEncryptedRoundTrip(80);
  const joinFirstAnswer = await measureFirstAnswerAfterJoin();
  say(`e2e matrix encrypted !status fs: p50 ${e2ee.encrypted_p50} · unencrypted p50 ${e2ee.plain_p50} (same bot and fake) · ratio ${e2ee.ratio} (80 round trips after 20 warm-up); first answer after joining an encrypted room of three: ${joinFirstAnswer} ms`);
  const starts: number[] = [];
  for (let i = 0; i < 5; i++) starts.push(await firstAnswerMs());
  const startup = { console_first_answer_ms: round(percentile(starts, 50), 1) };
  say(`startup: console first answer ${startup.console_first_answer_ms} ms (median of 5 fresh processes)`);
  const rss = await measureRss(1000);
  say(`rss: ${rss.rss_mb} MB idle after ${rss.messages} handled messages (Matrix ones encrypted) with both adapters connected and encryption on (${rss.rss_at_ready_mb} MB when ready, peak ${rss.peak_rss_mb} MB)`);
  const fan = await measureFanout(1000);
  say(
    `digest fan-out: ${fan.subscriptions} due at one second delivered in ${fan.deliver_all_ms} ms (Discord ${fan.discord_all_ms}, Matrix ${fan.matrix_all_ms}); ` +
      `commands meanwhile p50 ${fan.command_during.p50} p99 ${fan.command_during.p99} max ${fan.command_during.max} (n ${fan.command_during.n}) vs idle p50 ${fan.command_idle.p50} p99 ${fan.command_idle.p99}`,
  );
  const rep = await measureReplicas();
  for (const f of rep.fanout) say(`replicas ${f.replicas} on PostgreSQL: ${f.subscriptions} digests due at one second delivered in ${f.deliver_all_ms} ms (Discord ${f.discord_all_ms}, Matrix ${f.matrix_all_ms}); at most ${f.discord_max_per_s} Discord posts in one second (global limit 50)`);
  say(`replicas 3: takeover after SIGKILL (lease ${rep.roles.lease_seconds} s): gateway ${rep.roles.gateway_takeover_ms} ms, matrix ${rep.roles.matrix_takeover_ms} ms; POST /interactions p50 ${rep.roles.interactions.p50} p99 ${rep.roles.interactions.p99} (n ${rep.roles.interactions.n}) vs gateway path p50 ${discord.bot_p50}`);
  const result = {
    core: c,
    scale,
    e2e: { discord: { bot_p50: discord.bot_p50, pong_p50: discord.pong_p50, ratio: discord.ratio }, matrix, matrix_e2ee: { ...e2ee, join_first_answer_ms: joinFirstAnswer } },
    startup,
    rss_mb: { both_adapters_idle: rss.rss_mb, both_adapters_ready: rss.rss_at_ready_mb, peak: rss.peak_rss_mb },
    digest_fanout: fan,
    replicas: rep,
  };
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
