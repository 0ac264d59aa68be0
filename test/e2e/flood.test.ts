/**
 * Floods and shutdown under load, on the built bot (production V8 flags) against the fake Discord: many users
 * mentioning the bot at once are shed from a bounded reply queue (oldest first, counted, logged once per
 * interval) while slash commands and an ordinary user are still answered; SIGTERM with a backlog exits 0
 * within the drain limit and says how many replies it dropped. No timing is asserted (see `npm run bench`
 * for the 40,000-user figures); the waits only poll for conditions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeDiscord, type FakeDiscord, type RecordedRequest } from '../fakes/discord/server.js';
import { cleanEnv, spawnBot, until, type SpawnedBot } from '../support/spawn.js';

const PRODUCTION_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=256'];
let discord: FakeDiscord;
let bot: SpawnedBot | undefined;
const dirs: string[] = [];

beforeEach(async () => {
  // Interactions are answered here even when the bot is seconds behind the gateway (Discord fails them after 3 s:
  // that figure is measured by the bench, not asserted).
  discord = await startFakeDiscord({ interactionDeadlineMs: 0 });
});
afterEach(async () => {
  if (bot && bot.child.exitCode === null) bot.child.kill('SIGKILL');
  bot = undefined;
  await discord.close();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function start(): SpawnedBot {
  const dataDir = mkdtempSync(join(tmpdir(), 'ksb-flood-'));
  dirs.push(dataDir);
  bot = spawnBot(cleanEnv({ DISCORD_TOKEN: discord.token, DISCORD_API_URL: discord.apiUrl, DATA_DIR: dataDir, HTTP_PORT: '0' }), [
    ...PRODUCTION_FLAGS,
    'dist/src/main.js',
  ]);
  return bot;
}

const isMessagePost = (r: RecordedRequest) => r.method === 'POST' && /^\/channels\/\d+\/messages$/.test(r.path);
function metric(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('a flood of mentions from many users', () => {
  it('sheds the oldest replies (metric, one log line per interval), keeps memory bounded, answers slash commands and an ordinary user', async () => {
    const b = start();
    const url = await b.httpUrl();
    await b.waitForLog((l) => l.msg === 'connected to Discord');
    // Each reply takes 20 ms to be answered, one at a time per channel (discord.js queues per route): about 50 a
    // second, as Discord's own limit allows; the flood comes in far faster.
    discord.slowResponses(isMessagePost, 20);
    const began = Date.now();
    await discord.floodMentions({ count: 8000 });

    const interaction = discord.sendInteraction({ commandName: 'status', options: [{ name: 'topic', type: 3, value: 'fs' }] });
    const slash = await discord.waitForRequest((r) => r.path === `/interactions/${interaction.id}/${interaction.token}/callback`, 60_000);
    expect(slash.body.data.embeds[0].title).toContain('Filesystems');
    const ordinary = discord.sendUserMessage({ content: 'what does the talk say about realtime?', mentionsBot: true });
    await discord.waitForRequest((r) => isMessagePost(r) && r.body?.message_reference?.message_id === ordinary.id, 60_000);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    const shed = metric(metrics, 'kbot_replies_shed_total{platform="discord"}');
    expect(shed).toBeGreaterThan(1000);
    expect(metric(metrics, 'kbot_reply_queue_length{platform="discord"}')).toBeLessThanOrEqual(500);
    expect(metric(metrics, 'process_resident_memory_bytes')).toBeLessThan(350 * 1024 * 1024);
    expect(b.child.exitCode).toBeNull();

    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    const shedLines = b.lines().filter((l) => l.msg?.startsWith('reply queue full'));
    // Once per 10 s interval (plus the flush at shutdown), never per message; together they count every shed reply.
    expect(shedLines.length).toBeLessThanOrEqual(Math.ceil((Date.now() - began) / 10_000) + 1);
    expect(shedLines.reduce((n, l) => n + l.shed, 0)).toBeGreaterThanOrEqual(shed);
  }, 120_000);
});

describe('SIGTERM during a burst', () => {
  it('exits 0 within the drain limit and logs how many queued replies were dropped', async () => {
    const b = start();
    const url = await b.httpUrl();
    await b.waitForLog((l) => l.msg === 'connected to Discord');
    discord.holdResponses(isMessagePost); // replies never come back: 8 stay in flight, the rest wait
    await discord.floodMentions({ count: 300 });
    await until(
      '300 replies accepted',
      async () => {
        const m = await (await fetch(`${url}/metrics`)).text();
        return metric(m, 'kbot_reply_queue_length{platform="discord"}') === 292;
      },
      60_000,
    );
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    const closed = b.lines().find((l) => l.msg?.startsWith('shutdown:') && l.adapter === 'discord');
    expect(closed).toMatchObject({ dropped: 292, unfinished: 8 });
    expect(b.lines().some((l) => l.msg?.startsWith('shutdown took longer'))).toBe(false);
  }, 90_000);
});
