/**
 * `npm run bench:flood`: 40,000 different users mention the bot once each, as fast as the fake Discord can
 * dispatch them, while a slash command (each from a different user) arrives every 100 ms. The built bot runs with
 * production's V8 flags; replies to messages are answered by the fake at about Discord's pace (20 ms each,
 * one at a time per channel). Prints RSS (before, peak via VmHWM), slash-command latency meanwhile (p50, p99,
 * max, and how many took over Discord's 3 s), replies shed, and whether an ordinary user's mention sent after
 * the flood is answered. `--users N` changes the flood size; `--json` prints one JSON object;
 * `--http-interactions` sends the slash commands to `POST /interactions` (signed, as Discord does with an
 * Interactions Endpoint URL) instead of over the gateway.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { appKeys, interaction, postInteraction } from '../fakes/discord/http-interactions.js';
import { startFakeDiscord, type RecordedRequest } from '../fakes/discord/server.js';
import { cleanEnv, spawnBot } from '../support/spawn.js';
import { PRODUCTION_NODE_FLAGS } from './process.js';
import { percentile, round } from './stats.js';

const { values } = parseArgs({
  options: { users: { type: 'string', default: '40000' }, json: { type: 'boolean', default: false }, 'http-interactions': { type: 'boolean', default: false } },
});
/** Slash commands through `POST /interactions` (DISCORD_PUBLIC_KEY) instead of the gateway, which the flood fills. */
const OVER_HTTP = values['http-interactions'];
const USERS = Number(values.users);

function vm(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? round(Number(m[1]) / 1024, 1) : NaN;
}

const isMessagePost = (r: RecordedRequest) => r.method === 'POST' && /^\/channels\/\d+\/messages$/.test(r.path);

async function main(): Promise<void> {
  const discord = await startFakeDiscord({ interactionDeadlineMs: 0 });
  const dataDir = mkdtempSync(join(tmpdir(), 'ksb-bench-flood-'));
  const keys = appKeys();
  const env = {
    DISCORD_TOKEN: discord.token,
    DISCORD_API_URL: discord.apiUrl,
    DATA_DIR: dataDir,
    HTTP_PORT: '0',
    ...(OVER_HTTP ? { DISCORD_PUBLIC_KEY: keys.publicKeyHex } : {}),
  };
  const bot = spawnBot(cleanEnv(env), [...PRODUCTION_NODE_FLAGS, 'dist/src/main.js']);
  const url = await bot.httpUrl(60_000);
  await bot.waitForLog((l) => l.msg === 'connected to Discord', 60_000);
  const pid = bot.child.pid!;
  const rssBefore = vm(pid, 'VmRSS');
  discord.slowResponses(isMessagePost, 20);

  // Slash commands every 100 ms from an ordinary user, from the flood's start until the bot has caught up.
  const latencies: number[] = [];
  let flooding = true;
  const slashLoop = (async () => {
    const pending: Promise<void>[] = [];
    while (flooding) {
      const sent = performance.now();
      // A different user each time: one user at 10 commands a second would (rightly) be rate-limited.
      const n = pending.length;
      const user = { id: `7${String(n).padStart(17, '0')}`, username: `slash${n}` };
      const options = [{ name: 'topic', type: 3, value: 'fs' }];
      let answered: Promise<number>;
      if (OVER_HTTP) {
        const body = interaction({ type: 2, name: 'status', options, userId: user.id });
        answered = postInteraction(url, body, keys).then((r) => (r.json?.data ? performance.now() : Promise.reject(new Error(`HTTP ${r.status}`))));
      } else {
        const i = discord.sendInteraction({ commandName: 'status', options, user });
        answered = discord.waitForRequest((r) => r.path === `/interactions/${i.id}/${i.token}/callback`, 300_000).then((r) => r.at);
      }
      pending.push(answered.then((at) => void latencies.push(at - sent)).catch(() => void latencies.push(Infinity)));
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(pending);
  })();

  const began = performance.now();
  await discord.floodMentions({ count: USERS });
  const dispatchMs = performance.now() - began;
  // An ordinary user after the flood: answered once the backlog is through.
  const ordinary = discord.sendUserMessage({
    content: 'what does the talk say about realtime?',
    mentionsBot: true,
    author: { id: '600000000000000001', username: 'ordinary' },
  });
  const answered = await discord
    .waitForRequest((r) => isMessagePost(r) && r.body?.message_reference?.message_id === ordinary.id, 300_000)
    .then((r) => r.at - began)
    .catch(() => NaN);
  flooding = false;
  await slashLoop;
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const shed = Number(/^kbot_replies_shed_total\{platform="discord"\} (\S+)$/m.exec(metrics)?.[1]);
  const handled = [...metrics.matchAll(/^kbot_messages_total\{platform="discord",command="ask",outcome="ok"\} (\S+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  const result = {
    users: USERS,
    interactions: OVER_HTTP ? 'http' : 'gateway',
    dispatch_ms: Math.round(dispatchMs),
    alive: bot.child.exitCode === null,
    rss_before_mb: rssBefore,
    rss_peak_mb: vm(pid, 'VmHWM'),
    rss_after_mb: vm(pid, 'VmRSS'),
    slash: {
      n: latencies.length,
      p50_ms: round(percentile(latencies, 50), 1),
      p99_ms: round(percentile(latencies, 99), 1),
      max_ms: round(Math.max(...latencies), 1),
      over_3s: latencies.filter((l) => l > 3000).length,
    },
    questions_handled: handled,
    replies_posted: discord.requests.filter(isMessagePost).length,
    replies_shed: shed,
    ordinary_user_answered_after_ms: Math.round(answered),
  };
  bot.child.kill('SIGTERM');
  const code = await bot.exited;
  await discord.close();
  rmSync(dataDir, { recursive: true, force: true });
  if (values.json) process.stdout.write(`${JSON.stringify({ ...result, exit_code: code })}\n`);
  else console.table(Object.entries({ ...result, slash: JSON.stringify(result.slash), exit_code: code }).map(([k, v]) => ({ figure: k, value: v })));
}

await main();
