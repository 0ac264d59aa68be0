/**
 * End-to-end tests of the Discord adapter: the REAL discord.js Client inside DiscordAdapter, over a real Bot
 * (the repository's knowledge and commands), against the fake Discord server (test/fakes/discord/server.ts).
 * Assertions are on what the fake received (requests, registered commands, stored messages), never on internals.
 */
import { appendFileSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DiscordAdapter } from '../../src/adapters/discord/adapter.js';
import { slashCommands } from '../../src/adapters/discord/commands.js';
import { DeliveryError } from '../../src/digest/port.js';
import { defineCommand, type OptionDef } from '../../src/core/command.js';
import type { Reply } from '../../src/core/reply.js';
import { KnowledgeBase } from '../../src/knowledge/base.js';
import { startFakeDiscord, type FakeDiscord, type RecordedRequest } from '../fakes/discord/server.js';
import { captureLogger, makeBot } from '../support/bot.js';
import { until } from '../support/poll.js';
import { startDiscordBot, type DiscordBot, type DiscordBotOptions } from '../support/discord-bot.js';
import { embedSize, isCommandPut, isMessagePost } from '../support/discord.js';
import { cleanEnv, runNode } from '../support/spawn.js';

const TOPICS_IN_TALK_ORDER = [
  'linux-next',
  'embedded',
  'x86',
  'realtime',
  'filesystems',
  'memory-management',
  'hardware-virtualisation',
  'os-virtualisation',
  'ras',
  'aio',
  'tracing',
];
const EPHEMERAL = 64;
const STRING = 3;
const BOOLEAN = 5;
const SUBCOMMAND = 1;
const GENEROUS = { burst: 10_000, perMinute: 600_000 };

/** Every request every fake of this file received, for the file-wide mention-safety check. */
const allRequests: RecordedRequest[] = [];

let fake: FakeDiscord;
const running: DiscordBot[] = [];

beforeEach(async () => {
  fake = await startFakeDiscord();
});

afterEach(async () => {
  // Stop every adapter (reconnect-safe destroy) before the server goes away.
  for (const b of running.splice(0).reverse()) await b.stop();
  allRequests.push(...fake.requests);
  await fake.close();
});

async function start(o: DiscordBotOptions = {}): Promise<DiscordBot> {
  const b = await startDiscordBot(fake, { ...o, bot: { rateLimit: GENEROUS, ...o.bot } });
  running.push(b);
  return b;
}

const opt = (name: string, value: string | boolean, focused = false) => ({
  name,
  type: typeof value === 'boolean' ? BOOLEAN : STRING,
  value,
  ...(focused ? { focused: true } : {}),
});

/** Sends a chat-input command and resolves with the callback request the bot made. */
function slash(commandName: string, options: unknown[] = [], extra: { memberPermissions?: string; dm?: boolean } = {}): Promise<RecordedRequest> {
  return fake.sendInteraction({ commandName, ...(options.length ? { options } : {}), ...extra }).callback;
}

/** Sends an autocomplete interaction for /status topic and resolves with the returned choices. */
async function complete(value: string): Promise<{ name: string; value: string }[]> {
  const req = await fake.sendInteraction({ type: 4, commandName: 'status', options: [opt('topic', value, true)] }).callback;
  expect(req.status).toBe(204);
  expect(req.body.type).toBe(8);
  return req.body.data.choices;
}

const embedOf = (req: RecordedRequest) => req.body.data.embeds[0];
const isEphemeral = (req: RecordedRequest) => ((req.body.data.flags ?? 0) & EPHEMERAL) !== 0;
/** The bot's reply (POST /channels/{id}/messages) that references the user message `messageId`. */
const replyTo = (messageId: string) => fake.waitForRequest((r) => isMessagePost(r) && r.body?.message_reference?.message_id === messageId);

describe('Discord adapter end to end (real discord.js Client, fake Discord)', () => {
  describe('slash command registration', () => {
    it('registers exactly the commands derived from the definitions, globally and to the guild', async () => {
      const { bot } = await start({ guildId: fake.guildId });
      const pick = (c: any) => ({ name: c.name, description: c.description, options: c.options ?? [] });
      const wanted = slashCommands(bot.commands).map(pick);
      expect(wanted.length).toBeGreaterThanOrEqual(6);
      expect(fake.globalCommands.map(pick)).toEqual(wanted);
      expect((fake.guildCommands.get(fake.guildId) ?? []).map(pick)).toEqual(wanted);
      const digest = fake.globalCommands.find((c) => c.name === 'digest');
      expect(digest.default_member_permissions).toBe('16');
      expect(fake.globalCommands.find((c) => c.name === 'status').default_member_permissions).toBeNull();
      expect(fake.requests.filter(isCommandPut).map((r) => r.status)).toEqual([200, 200]);
    });

    it('does not PUT again when a second start finds the same commands registered', async () => {
      const first = await start({ guildId: fake.guildId });
      await first.stop();
      const putsAfterFirst = fake.requests.filter(isCommandPut).length;
      expect(putsAfterFirst).toBe(2);
      const getsBefore = fake.requests.filter((r) => r.method === 'GET' && /\/commands$/.test(r.path)).length;

      const second = await start({ guildId: fake.guildId });
      expect(fake.requests.filter(isCommandPut)).toHaveLength(putsAfterFirst);
      expect(fake.requests.filter((r) => r.method === 'GET' && /\/commands$/.test(r.path)).length).toBe(getsBefore + 2);
      // And the second adapter works.
      expect(embedOf(await slash('status', [opt('topic', 'fs')])).title).toContain('Filesystems');
      expect(second.lines.some((l) => l.msg === 'slash commands up to date')).toBe(true);
    });

    it('PUTs again only where a registered command differs (an option changed globally)', async () => {
      const first = await start({ guildId: fake.guildId });
      await first.stop();
      const puts = fake.requests.filter(isCommandPut).length;
      const status = fake.globalCommands.find((c) => c.name === 'status');
      status.options = status.options.map((o: any) => (o.name === 'topic' ? { ...o, max_length: 99 } : o));
      await start({ guildId: fake.guildId });
      const again = fake.requests.filter(isCommandPut).slice(puts);
      expect(again.map((r) => r.path)).toEqual([expect.not.stringContaining('/guilds/')]);
      expect(fake.globalCommands.find((c) => c.name === 'status').options[0].max_length).toBe(100);
    });
  });

  describe('autocomplete of /status topic', () => {
    it('puts the intended topic first for a typo', async () => {
      await start();
      const choices = await complete('filesytems');
      expect(choices[0]?.value).toBe('filesystems');
    });

    it('offers every topic in talk order for empty input', async () => {
      await start();
      const choices = await complete('');
      expect(choices.map((c) => c.value)).toEqual(TOPICS_IN_TALK_ORDER);
    });

    it('is limited per user like messages: a flood from one user is left unanswered, another user is still served', async () => {
      await start({ bot: { rateLimit: { burst: 5, perMinute: 20 } } });
      const flood = Array.from({ length: 200 }, () =>
        fake.sendInteraction({ type: 4, commandName: 'status', options: [opt('topic', 'fs', true)], user: { id: '100000000000000011' } }),
      );
      // Another user's autocomplete and command, sent after the whole flood, are answered.
      const other = await fake.sendInteraction({ type: 4, commandName: 'status', options: [opt('topic', 'files', true)] }).callback;
      expect(other.body.data.choices[0].value).toBe('filesystems');
      expect(embedOf(await slash('status', [opt('topic', 'fs')])).title).toContain('Filesystems');
      const paths = new Set(flood.map((f) => `/interactions/${f.id}/${f.token}/callback`));
      const answered = () => fake.requests.filter((r) => paths.has(r.path)).length;
      // 5 × 4 = 20 at once (plus what refills meanwhile: 20 × 6 = 120 a minute, 2 a second); the allowed ones may still be in flight.
      for (let i = 0; i < 250 && answered() < 20; i++) await new Promise((r) => setTimeout(r, 20));
      expect(answered()).toBeGreaterThanOrEqual(20);
      expect(answered()).toBeLessThan(40);
    });

    describe('with more than 25 topics', () => {
      let dir: string;
      beforeAll(() => {
        dir = mkdtempSync(join(tmpdir(), 'ksb-many-topics-'));
        copyFileSync('knowledge/talk.yaml', join(dir, 'talk.yaml'));
        const extra = Array.from({ length: 20 }, (_, i) => {
          const n = String(i + 1).padStart(2, '0');
          return [
            `  - id: generated-${n}`,
            // 90 characters, the schema's maximum title length.
            `    title: ${`Generated topic ${n} `.padEnd(90, 'x')}`,
            `    aliases: [generated alias ${n}]`,
            `    summary: A generated topic (${n}) for the autocomplete limit.`,
            '    verdict: mixed',
            `    verdict_quote: Generated bullet ${n}`,
            '    slides:',
            '      - page: 18',
            '        title: generated',
            '        bullets:',
            `          - text: Generated bullet ${n} for the test`,
          ].join('\n');
        });
        appendFileSync(join(dir, 'talk.yaml'), `\n${extra.join('\n\n')}\n`);
      });
      afterAll(() => rmSync(dir, { recursive: true, force: true }));

      it('answers with exactly 25 choices, names at most 100 characters', async () => {
        const knowledge = new KnowledgeBase(dir);
        expect(knowledge.current.knowledge.topics).toHaveLength(31);
        await start({ bot: { knowledge } });
        const choices = await complete('');
        expect(choices).toHaveLength(25);
        for (const c of choices) {
          expect(c.name.length).toBeGreaterThan(0);
          expect(c.name.length).toBeLessThanOrEqual(100);
          expect(c.value.length).toBeLessThanOrEqual(100);
        }
        expect(choices.slice(0, 11).map((c) => c.value)).toEqual(TOPICS_IN_TALK_ORDER);
        expect((await complete('generated')).length).toBeLessThanOrEqual(25);
      });

      it('cuts the /status board at 25 fields with a pointer to the rest', async () => {
        await start({ bot: { knowledge: new KnowledgeBase(dir) } });
        const req = await slash('status');
        expect(req.status).toBe(204); // the fake's validator accepted it
        const e = embedOf(req);
        expect(e.fields.length).toBeLessThanOrEqual(25);
        expect(embedSize(e)).toBeLessThanOrEqual(6000);
        const last = e.fields.at(-1);
        const m = /^… (\d+) more$/.exec(last.name);
        expect(m).not.toBeNull();
        expect(e.fields.length - 1 + Number(m![1])).toBe(31);
      });
    });
  });

  describe('/status', () => {
    it('answers /status topic:fs with the Filesystems embed, visible to everyone', async () => {
      await start();
      const req = await slash('status', [opt('topic', 'fs')]);
      expect(req.status).toBe(204);
      expect(req.body.type).toBe(4);
      const e = embedOf(req);
      expect(e.title).toContain('Filesystems');
      expect(typeof e.color).toBe('number');
      expect(e.description).toContain('(p. 10)');
      expect(e.footer.text).toContain('The state of Linux kernel development');
      expect(isEphemeral(req)).toBe(false);
      // The response is a real message in the channel.
      expect(fake.channelMessages(fake.channelIds.general).at(-1)?.embeds[0].title).toBe(e.title);
    });

    it('answers /status without a topic with the board: one field per topic', async () => {
      await start();
      const req = await slash('status');
      expect(req.status).toBe(204);
      const e = embedOf(req);
      expect(e.fields).toHaveLength(11);
      expect(e.fields[4].name).toContain('Filesystems');
    });

    it('makes the answer ephemeral with hide:true', async () => {
      await start();
      const req = await slash('status', [opt('topic', 'fs'), opt('hide', true)]);
      expect(req.status).toBe(204);
      expect(embedOf(req).title).toContain('Filesystems');
      expect(isEphemeral(req)).toBe(true);
    });

    it('answers /status in a DM with the bot', async () => {
      await start();
      const { callback } = fake.sendInteraction({ commandName: 'status', options: [opt('topic', 'kvm')], dm: true });
      const req = await callback;
      expect(req.status).toBe(204);
      expect(embedOf(req).title).toContain('Hardware virtualisation');
    });

    it('answers a topic that matches nothing ephemerally, without hide', async () => {
      await start();
      const req = await slash('status', [opt('topic', 'zzqxjvvq')]);
      expect(req.status).toBe(204);
      expect(embedOf(req).description).toContain('No topic matches');
      expect(isEphemeral(req)).toBe(true);
    });
  });

  describe('every command', () => {
    const sample = (o: OptionDef): string | boolean =>
      o.type === 'boolean' ? false : o.choices ? o.choices[0]! : o.name === 'schedule' ? 'daily 09:00' : o.name === 'id' ? 'nope1234' : 'fs';
    const filled = (list: readonly OptionDef[] = []) => list.filter((o) => o.required).map((o) => opt(o.name, sample(o)));

    it('answers each registered command and subcommand within Discord limits, for a manager and for a member', async () => {
      const { bot } = await start();
      const calls: [string, unknown[]][] = bot.commands.flatMap((d): [string, unknown[]][] =>
        d.subcommands ? d.subcommands.map((sc) => [d.name, [{ name: sc.name, type: SUBCOMMAND, options: filled(sc.options) }]]) : [[d.name, filled(d.options)]],
      );
      expect(calls.length).toBeGreaterThanOrEqual(9);
      for (const memberPermissions of ['16', '0']) {
        for (const [name, options] of calls) {
          const req = await slash(name, options, { memberPermissions });
          expect(req.status, `${name} ${JSON.stringify(options)}: ${JSON.stringify(req.response)}`).toBe(204);
          const e = embedOf(req);
          expect(e.title || e.description).toBeTruthy();
          expect(embedSize(e)).toBeLessThanOrEqual(6000);
        }
      }
    });
  });

  describe('questions', () => {
    it('answers /ask with the matching quote', async () => {
      await start();
      const req = await slash('ask', [opt('question', 'what does the talk say about btrfs?')]);
      expect(req.status).toBe(204);
      expect(embedOf(req).description).toContain('btrfs will save us');
    });

    it('answers a guild message that mentions the bot, as a reply to it', async () => {
      await start();
      const sent = fake.sendUserMessage({ content: `<@${fake.botUser.id}> what is happening with btrfs?`, mentionsBot: true });
      const req = await replyTo(sent.id);
      expect(req.path).toBe(`/channels/${fake.channelIds.general}/messages`);
      expect(req.status).toBe(200);
      expect(req.body.embeds[0].description).toContain('btrfs will save us');
      const [reply] = fake.channelMessages(fake.channelIds.general);
      expect(reply).toMatchObject({ type: 19, message_reference: { message_id: sent.id } });
    });

    it('answers a DM without a mention', async () => {
      await start();
      const sent = fake.sendUserMessage({ content: 'what does the talk say about btrfs?', dm: true });
      const req = await fake.waitForRequest((r) => isMessagePost(r) && r.path === `/channels/${sent.channel_id}/messages`);
      expect(req.status).toBe(200);
      expect(req.body.embeds[0].description).toContain('btrfs will save us');
    });

    it('ignores a bot author that mentions it (and answers the human after it)', async () => {
      await start();
      const fromBot = fake.sendUserMessage({
        content: 'what about btrfs?',
        mentionsBot: true,
        author: { id: '100000000000000042', username: 'other-bot', bot: true },
      });
      const fromHuman = fake.sendUserMessage({ content: 'what about btrfs?', mentionsBot: true });
      await replyTo(fromHuman.id);
      const replies = fake.requests.filter(isMessagePost);
      expect(replies).toHaveLength(1);
      expect(replies[0]!.body.message_reference.message_id).toBe(fromHuman.id);
      expect(replies.some((r) => r.body?.message_reference?.message_id === fromBot.id)).toBe(false);
    });

    it('does not answer a guild message that does not mention it', async () => {
      await start();
      fake.sendUserMessage({ content: 'what about btrfs?' });
      const human = fake.sendUserMessage({ content: 'and now?', mentionsBot: true });
      await replyTo(human.id);
      expect(fake.requests.filter(isMessagePost)).toHaveLength(1);
    });
  });

  describe('mention safety', () => {
    it('never lets user text ping anyone (messages and interaction responses)', async () => {
      await start();
      const pings = `@everyone @here <@&${fake.roleIds.bot}> <@${fake.users.owner.id}>`;
      const sent = fake.sendUserMessage({ content: `${pings} what about btrfs?`, mentionsBot: true, mentionEveryone: true, mentionRoles: [fake.roleIds.bot] });
      const req = await replyTo(sent.id);
      expect(req.body.allowed_mentions).toEqual({ parse: [], replied_user: false });
      const [stored] = fake.channelMessages(fake.channelIds.general);
      expect(stored.mentions).toEqual([]);
      expect(stored.mention_roles).toEqual([]);

      for (const cb of [await slash('ask', [opt('question', `${pings} btrfs?`)]), await slash('status', [opt('topic', pings)])]) {
        expect(cb.status).toBe(204);
        expect(cb.body.data.allowed_mentions).toEqual({ parse: [], replied_user: false });
      }
      // The echo of the query in the no-match answer is escaped text in an embed, and pings nobody.
      for (const m of fake.channelMessages(fake.channelIds.general)) {
        expect(m.mentions).toEqual([]);
        expect(m.mention_roles).toEqual([]);
        expect(m.mention_everyone).toBe(false);
      }
    });
  });

  describe('overflow', () => {
    const overflow = defineCommand({
      name: 'overflow',
      description: 'Test command: a reply far too long for one embed',
      examples: ['overflow'],
      run: (): Reply => ({
        kind: 'status',
        title: 'Overflow',
        verdict: 'mixed',
        summary: 'Two hundred long points.',
        points: Array.from({ length: 200 }, (_, i) => ({
          text: `Point ${i + 1}: ${'a fairly long sentence quoted from the talk, '.repeat(3)}`.trim(),
          page: (i % 18) + 1,
          topicId: 'overflow',
          topicTitle: 'Overflow',
        })),
        footer: 'From a test',
        more: 'status overflow',
      }),
    });

    it('cuts a reply with 200 points to one embed within Discord limits, with a pointer to the rest', async () => {
      await start({ bot: { extra: [overflow] } });
      expect(fake.globalCommands.some((c) => c.name === 'overflow')).toBe(true);
      const req = await slash('overflow');
      expect(req.status).toBe(204); // the fake's validator accepted it (400 otherwise)
      const e = embedOf(req);
      expect(e.description.length).toBeLessThanOrEqual(4096);
      expect(embedSize(e)).toBeLessThanOrEqual(6000);
      const m = /… (\d+) more: see \/status overflow$/.exec(e.description);
      expect(m).not.toBeNull();
      const shown = e.description.split('\n').filter((l: string) => l.startsWith('•')).length;
      expect(shown).toBeGreaterThan(10);
      expect(shown + Number(m![1])).toBe(200);
    });
  });

  describe('gateway reconnects', () => {
    it('resumes after a dropped connection, and identifies afresh after an invalidated session, answering each time', { timeout: 40_000 }, async () => {
      const { adapter } = await start();
      await fake.waitForReady(1);
      expect(adapter.status()).toEqual({ connected: true });

      fake.dropGateway();
      // Sent while the connection is down: replayed on RESUME, and answered.
      const missed = fake.sendUserMessage({ content: 'what about btrfs?', mentionsBot: true });
      await fake.waitForReady(2);
      expect(fake.gatewayReceived.filter((p) => p.op === 6)).toHaveLength(1);
      expect((await replyTo(missed.id)).body.embeds[0].description).toContain('btrfs');
      expect(adapter.status()).toEqual({ connected: true });
      let req = await slash('status', [opt('topic', 'fs')]);
      expect(req.status).toBe(204);
      expect(embedOf(req).title).toContain('Filesystems');

      fake.dropGateway({ resumable: false });
      await fake.waitForReady(3, 20_000);
      expect(fake.gatewayReceived.filter((p) => p.op === 2)).toHaveLength(2);
      req = await slash('status', [opt('topic', 'mm')]);
      expect(req.status).toBe(204);
      expect(embedOf(req).title).toContain('Memory management');
      expect(adapter.status()).toEqual({ connected: true });
    });
    it('reads back mentions and DMs sent while an invalidated session was down and answers each once, every time', { timeout: 60_000 }, async () => {
      const { lines } = await start();
      await fake.waitForReady(1);
      const answers = (id: string) => fake.requests.filter((r) => isMessagePost(r) && r.status === 200 && r.body?.message_reference?.message_id === id).length;
      // Live first: the bot has seen the guild channel and a DM channel.
      const live = [fake.sendUserMessage({ content: 'what about btrfs?', mentionsBot: true }), fake.sendUserMessage({ content: 'and xfs?', dm: true })];
      for (const m of live) await replyTo(m.id);

      const gap: { id: string }[] = [];
      for (let round = 1; round <= 2; round++) {
        fake.dropGateway({ resumable: false });
        // Sent while no session exists: Discord delivers these to nobody, ever.
        gap.push(fake.sendUserMessage({ content: `round ${round}: what about btrfs?`, mentionsBot: true }));
        gap.push(fake.sendUserMessage({ content: `round ${round}: who maintains x86?`, dm: true }));
        await fake.waitForReady(1 + round, 20_000);
        // And one on the new session, which must not be answered twice by the read-back.
        const after = fake.sendUserMessage({ content: `round ${round}: what is happening with kvm?`, mentionsBot: true });
        gap.push(after);
        for (const m of gap) await replyTo(m.id);
      }
      expect(fake.gatewayReceived.filter((p) => p.op === 2)).toHaveLength(3);
      // Time for any second answer (a read-back racing the live message) to arrive.
      await new Promise((r) => setTimeout(r, 500));
      for (const m of [...live, ...gap]) expect(answers(m.id)).toBe(1);
      expect(lines.filter((l) => l.msg === 'read back messages sent while no session held the gateway').length).toBeGreaterThanOrEqual(2);
    });
  });

  describe('reply sends that fail', () => {
    const replyPosts = (id: string) => fake.requests.filter((r) => isMessagePost(r) && r.body?.message_reference?.message_id === id);
    const repliesIn = (id: string) => fake.channelMessages(fake.channelIds.general).filter((m) => m.message_reference?.message_id === id);

    it('sends a reply again when its connection is lost, before or after Discord created it, and it appears once', { timeout: 30_000 }, async () => {
      await start();
      for (const afterCommit of [false, true, false, true]) {
        const asked = fake.sendUserMessage({ content: 'what about btrfs?', mentionsBot: true });
        fake.resetConnections((r) => isMessagePost(r) && r.body?.message_reference?.message_id === asked.id, { afterCommit });
        await fake.waitForRequest((r) => isMessagePost(r) && r.status === 200 && r.body?.message_reference?.message_id === asked.id, 15_000);
        expect(replyPosts(asked.id).map((r) => r.status)).toEqual([0, 200]);
        expect(repliesIn(asked.id)).toHaveLength(1);
      }
    });

    it('sends a reply again after 5xx beyond discord.js’s own retries; a 403 is final', { timeout: 30_000 }, async () => {
      const { lines } = await start();
      fake.failChannelPosts(fake.channelIds.general, 500, 5);
      const asked = fake.sendUserMessage({ content: 'what about btrfs?', mentionsBot: true });
      await fake.waitForRequest((r) => isMessagePost(r) && r.status === 200 && r.body?.message_reference?.message_id === asked.id, 15_000);
      // discord.js sends 4 times at once (3 retries); ours waited and sent again.
      expect(replyPosts(asked.id).map((r) => r.status)).toEqual([500, 500, 500, 500, 500, 200]);
      expect(repliesIn(asked.id)).toHaveLength(1);

      fake.failChannelPosts(fake.channelIds.general, 403, 1);
      const refused = fake.sendUserMessage({ content: 'and xfs?', mentionsBot: true });
      await until('the refused reply logged', () => lines.some((l) => l.msg === 'reply not sent'));
      expect(replyPosts(refused.id).map((r) => r.status)).toEqual([403]);
    });

    it('answers an interaction again when the connection is lost within Discord’s 3 s, once (a resend that finds it acknowledged is done)', {
      timeout: 30_000,
    }, async () => {
      const { lines } = await start();
      for (const afterCommit of [false, true, false, true]) {
        const sent = fake.sendInteraction({ commandName: 'status', options: [opt('topic', 'fs')] });
        const path = `/interactions/${sent.id}/${sent.token}/callback`;
        fake.resetConnections((r) => r.path === path, { afterCommit });
        await fake.waitForRequest((r) => r.path === path && r.status !== 0, 10_000);
        await new Promise((r) => setTimeout(r, 300));
        const statuses = fake.requests.filter((r) => r.path === path).map((r) => r.status);
        // Before: lost, then acknowledged. After: acknowledged (the answer lost), then told it already is.
        expect(statuses).toEqual(afterCommit ? [0, 400] : [0, 204]);
      }
      expect(lines.filter((l) => l.msg === 'reply not sent')).toEqual([]);
    });
  });

  describe('restarts', () => {
    it('answers a mention sent while the bot was down once it is back (seen channels kept in DATA_DIR), and nothing twice', { timeout: 60_000 }, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'ksb-restart-'));
      try {
        const answers = (id: string) =>
          fake.requests.filter((r) => isMessagePost(r) && r.status === 200 && r.body?.message_reference?.message_id === id).length;
        const asked: { id: string }[] = [];
        for (let run = 1; run <= 3; run++) {
          const b = await start({ dataDir });
          asked.push(fake.sendUserMessage({ content: `run ${run}: what about btrfs?`, mentionsBot: true }));
          for (const m of asked) await replyTo(m.id);
          await b.stop();
          // Sent while no bot runs: answered by the next run.
          asked.push(fake.sendUserMessage({ content: `between runs ${run} and ${run + 1}: who maintains x86?`, mentionsBot: true }));
        }
        const b = await start({ dataDir });
        for (const m of asked) await replyTo(m.id);
        await new Promise((r) => setTimeout(r, 500));
        await b.stop();
        for (const m of asked) expect(answers(m.id)).toBe(1);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });

  describe('digest posts', () => {
    const digest: Reply = { kind: 'info', title: 'Weekly digest', summary: 'Filesystems: btrfs is the hope.', footer: 'Digest' };

    it('posts once for a repeated key (nonce dedupe)', async () => {
      const { adapter } = await start();
      const channel = fake.channelIds.general;
      await adapter.post(channel, digest, 'key-1');
      await adapter.post(channel, digest, 'key-1');
      expect(fake.channelMessages(channel)).toHaveLength(1);
      const posts = fake.requests.filter((r) => isMessagePost(r) && r.path === `/channels/${channel}/messages`);
      expect(posts).toHaveLength(2);
      for (const p of posts) {
        expect(p.body).toMatchObject({ nonce: 'key-1', enforce_nonce: true, allowed_mentions: { parse: [] } });
        expect(p.body.embeds[0].title).toBe('Weekly digest');
      }
    });

    it('marks each post with its key so it can be found again; absent before, found after', async () => {
      const { adapter } = await start();
      const channel = fake.channelIds.other;
      expect(await adapter.findPost(channel, 'key-find', Date.now() - 60_000)).toBe('absent');
      await adapter.post(channel, digest, 'key-find');
      expect(fake.channelMessages(channel).at(-1).embeds[0].footer.text).toMatch(/ref key-find$/);
      expect(await adapter.findPost(channel, 'key-find', Date.now() - 60_000)).toBe('found');
      expect(await adapter.findPost(channel, 'key-other', Date.now() - 60_000)).toBe('absent');
    });

    it.each([404, 403] as const)('rejects with a permanent DeliveryError on %i', async (status) => {
      const { adapter } = await start();
      fake.failChannelPosts(fake.channelIds.other, status);
      const err = await adapter.post(fake.channelIds.other, digest, `key-${status}`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeliveryError);
      expect((err as DeliveryError).permanent).toBe(true);
      expect(fake.channelMessages(fake.channelIds.other)).toHaveLength(0);
    });

    it('rejects with a transient DeliveryError when the server keeps failing with 500', async () => {
      const { adapter } = await start();
      const channel = fake.channelIds.other;
      fake.failChannelPosts(channel, 500, 5);
      const err = await adapter.post(channel, digest, 'key-500').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeliveryError);
      expect((err as DeliveryError).permanent).toBe(false);
      const failed = fake.requests.filter((r) => isMessagePost(r) && r.path === `/channels/${channel}/messages`);
      expect(failed.length).toBeGreaterThan(1); // discord.js retried by itself
      expect(failed.every((r) => r.status === 500)).toBe(true);
      fake.failChannelPosts(channel, 500, 0);
      await adapter.post(channel, digest, 'key-500');
      expect(fake.channelMessages(channel)).toHaveLength(1);
    });
  });

  describe('permissions', () => {
    const subscribe = [{ name: 'subscribe', type: SUBCOMMAND, options: [opt('topics', 'fs'), opt('schedule', 'daily 09:00'), opt('mode', 'rotate')] }];

    it('refuses /digest subscribe, ephemerally, to a member without Manage Channels', async () => {
      const { digests } = await start();
      for (const memberPermissions of ['0', '1024']) {
        const req = await slash('digest', subscribe, { memberPermissions });
        expect(req.status).toBe(204);
        expect(isEphemeral(req)).toBe(true);
        expect(embedOf(req).description).toMatch(/Only people who manage/);
      }
      expect(digests!.store.listChannel('discord', fake.channelIds.general)).toHaveLength(0);
    });

    it('subscribes for a member with Manage Channels', async () => {
      const { digests } = await start();
      const req = await slash('digest', subscribe, { memberPermissions: '16' });
      expect(req.status).toBe(204);
      expect(embedOf(req).description).toContain('ID: ');
      expect(digests!.store.listChannel('discord', fake.channelIds.general)).toHaveLength(1);
    });
  });

  describe('permissions of text commands in a mention', () => {
    const line = '/digest subscribe topics:fs schedule:"daily 09:00" mode:board';

    it('refuses a member without Manage Channels and accepts the guild owner', async () => {
      const { digests } = await start();
      const member = fake.sendUserMessage({ content: line, mentionsBot: true });
      const refused = await replyTo(member.id);
      expect(refused.body.embeds[0].description).toMatch(/Only people who manage/);
      const owner = fake.sendUserMessage({ content: line, mentionsBot: true, author: { id: fake.users.owner.id } });
      const accepted = await replyTo(owner.id);
      expect(accepted.body.embeds[0].description).toContain('ID: ');
      expect(digests!.store.listChannel('discord', fake.channelIds.general)).toHaveLength(1);
    });

    it('keeps no message cache (memory stays flat in a busy community) yet still resolves the author for the check', async () => {
      const b = await start();
      for (let i = 0; i < 5; i++) await replyTo(fake.sendUserMessage({ content: 'what about btrfs?', mentionsBot: true }).id);
      const owner = fake.sendUserMessage({ content: line, mentionsBot: true, author: { id: fake.users.owner.id } });
      expect((await replyTo(owner.id)).body.embeds[0].description).toContain('ID: ');
      const channel = b.adapter.client.channels.cache.get(fake.channelIds.general);
      expect(channel && 'messages' in channel ? channel.messages.cache.size : -1).toBe(0);
    });
  });

  describe('a guild the bot cannot register commands in (DISCORD_GUILD_ID)', () => {
    const otherGuild = '123456789012345678';

    it('start() rejects naming DISCORD_GUILD_ID and leaves the client destroyed', async () => {
      const b = await startDiscordBot(fake, { guildId: otherGuild, start: false });
      running.push(b);
      await expect(b.adapter.start()).rejects.toThrow(/DISCORD_GUILD_ID/);
      expect(fake.requests.some((r) => r.path.includes(`/guilds/${otherGuild}/commands`) && r.status === 403)).toBe(true);
      expect(b.adapter.client.isReady()).toBe(false);
      expect(b.adapter.status().connected).toBe(false);
    });

    it('the built bot exits non-zero naming DISCORD_GUILD_ID instead of hanging', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'ksb-badguild-'));
      try {
        const r = await runNode(
          ['dist/src/main.js'],
          '',
          cleanEnv({ DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.apiUrl, DISCORD_GUILD_ID: otherGuild, DATA_DIR: dataDir }),
        );
        expect(r.code).not.toBe(0);
        expect(r.code).not.toBeNull();
        expect(r.stderr).toContain('DISCORD_GUILD_ID');
        expect(r.stderr).not.toContain(fake.token);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });

  describe('bad token', () => {
    it('start() rejects with a message naming DISCORD_TOKEN', async () => {
      const { logger } = captureLogger();
      const { bot } = await makeBot({ logger });
      const adapter = new DiscordAdapter({ token: 'not-the-token', apiUrl: fake.apiUrl, bot, logger });
      await expect(adapter.start()).rejects.toThrow(/DISCORD_TOKEN/);
      expect(fake.requests.some((r) => r.status === 401)).toBe(true);
      expect(fake.globalCommands).toHaveLength(0);
    });

    it('the built bot (dist/src/main.js) exits non-zero naming DISCORD_TOKEN', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'ksb-badtoken-'));
      try {
        const token = 'wrong-token-q7z3v';
        const r = await runNode(['dist/src/main.js'], '', cleanEnv({ DISCORD_TOKEN: token, DISCORD_API_URL: fake.apiUrl, DATA_DIR: dataDir }));
        expect(r.code).not.toBe(0);
        expect(r.code).not.toBeNull();
        expect(r.stderr).toContain('DISCORD_TOKEN');
        expect(r.stderr).not.toContain(token);
        expect(fake.requests.some((req) => req.status === 401)).toBe(true);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });

  describe('bot-wide /reload', () => {
    async function reloadAs(userId: string, dm = true): Promise<RecordedRequest> {
      return fake.sendInteraction({ commandName: 'reload', dm, user: { id: userId } }).callback;
    }

    it('is registered for server administrators; in a DM only the application owner, team members and BOT_ADMINS may run it', async () => {
      const listed = '100000000000000077';
      const b = await start({ admins: [listed] });
      expect(fake.globalCommands.find((c) => c.name === 'reload').default_member_permissions).toBe('8');
      expect((await reloadAs(fake.users.default.id)).body.data.embeds[0].description).toContain("Only the bot's administrators may use /reload");
      expect((await reloadAs(fake.users.owner.id)).body.data.embeds[0].title).toBe('Knowledge reloaded');
      expect((await reloadAs(listed)).body.data.embeds[0].title).toBe('Knowledge reloaded');
      // A guild manager is not a bot administrator.
      const manager = await fake.sendInteraction({ commandName: 'reload', memberPermissions: String((1n << 4n) | (1n << 3n)) }).callback;
      expect(manager.body.data.embeds[0].description).toContain("Only the bot's administrators");
      expect(b.adapter.status().connected).toBe(true);
    });

    it('a team-owned application: team members may reload, the former owner user may not', async () => {
      const member = '100000000000000099';
      fake.setApplicationTeam([member]);
      await start();
      expect((await reloadAs(member)).body.data.embeds[0].title).toBe('Knowledge reloaded');
      expect((await reloadAs(fake.users.owner.id)).body.data.embeds[0].description).toContain("Only the bot's administrators");
    });
  });

  describe('fatal gateway close codes', () => {
    for (const [code, cause] of [
      [4004, /DISCORD_TOKEN was rejected/],
      [4014, /intents are not enabled .* in the Developer Portal/],
    ] as const) {
      it(`close ${code} mid-run: no reconnect, status names the cause, onFatal gets a StartupError`, async () => {
        const b = await start();
        let fatal: Error | undefined;
        b.adapter.onFatal = (e) => (fatal = e);
        const identifies = fake.gatewayReceived.filter((p) => p.op === 2 || p.op === 6).length;
        fake.closeGateway(code);
        for (let i = 0; i < 500 && !fatal; i++) await new Promise((r) => setTimeout(r, 10));
        expect(fatal?.name).toBe('StartupError');
        expect(fatal!.message).toMatch(cause);
        expect(b.adapter.status()).toEqual({ connected: false, reason: fatal!.message });
        // A reconnect would IDENTIFY or RESUME again; prove it does not by a later gateway round: none arrives.
        await new Promise((r) => setTimeout(r, 300));
        expect(fake.gatewayReceived.filter((p) => p.op === 2 || p.op === 6)).toHaveLength(identifies);
      });
    }

    it('close 4004 at IDENTIFY (token revoked after the REST checks): start() rejects naming DISCORD_TOKEN instead of hanging', async () => {
      fake.failIdentify(4004);
      const b = await startDiscordBot(fake, { start: false });
      running.push(b);
      await expect(b.adapter.start()).rejects.toThrow(/DISCORD_TOKEN was rejected by the Discord gateway \(close code 4004/);
    });
  });

  // Runs last: every message and interaction response any fake of this file received.
  it('sent every message and interaction response with allowed_mentions {parse: []} (replied_user false on replies)', () => {
    const messages = allRequests.filter(isMessagePost);
    const responses = allRequests.filter((r) => r.method === 'POST' && /^\/interactions\/\d+\/[^/]+\/callback$/.test(r.path) && r.body?.type !== 8);
    expect(messages.length).toBeGreaterThan(0);
    expect(responses.length).toBeGreaterThan(0);
    for (const m of messages) {
      expect(m.body.allowed_mentions?.parse, m.path).toEqual([]);
      if (m.body.message_reference) expect(m.body.allowed_mentions.replied_user).toBe(false);
    }
    for (const r of responses) expect(r.body.data.allowed_mentions?.parse, r.path).toEqual([]);
  });
});
