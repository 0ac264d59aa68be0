/**
 * Smoke test for the fake Discord server: the REAL discord.js Client (via the pong bot) logs in over
 * loopback, receives gateway events and answers over REST.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiscordAPIError, Routes, type Client } from 'discord.js';
import { startFakeDiscord, type FakeDiscord, type RecordedRequest } from '../fakes/discord/server.js';
import { startPongBot } from '../fakes/discord/pong-bot.js';

describe('fake Discord server with the real discord.js client', () => {
  let fake: FakeDiscord;
  let bot: { client: Client; stop(): Promise<void> } | undefined;

  beforeEach(async () => {
    fake = await startFakeDiscord();
  });

  afterEach(async () => {
    await bot?.stop(); // client.destroy() before the server goes away
    bot = undefined;
    await fake.close();
  });

  const isMessagePost = (channelId: string) => (r: RecordedRequest) => r.method === 'POST' && r.path === `/channels/${channelId}/messages` && r.status === 200;

  it('answers a chat-input interaction through the callback endpoint', async () => {
    bot = await startPongBot(fake.apiUrl, fake.token);
    await fake.waitForReady();

    const { id, token, callback } = fake.sendInteraction({ commandName: 'ping' });
    const req = await callback;
    expect(req.path).toBe(`/interactions/${id}/${token}/callback`);
    expect(req.headers.authorization).toBeUndefined();
    expect(req.body).toMatchObject({ type: 4, data: { content: 'pong' } });
    expect(req.status).toBe(204);
    expect(fake.channelMessages(fake.channelIds.general).map((m) => m.content)).toEqual(['pong']);
  });

  it('replies to a guild message that mentions the bot', async () => {
    bot = await startPongBot(fake.apiUrl, fake.token);
    const sent = fake.sendUserMessage({ content: 'hello', mentionsBot: true, channelId: fake.channelIds.other });

    const req = await fake.waitForRequest(isMessagePost(fake.channelIds.other));
    expect(req.headers.authorization).toBe(`Bot ${fake.token}`);
    expect(req.body).toMatchObject({ content: 'pong', message_reference: { message_id: sent.id } });
    const [reply] = fake.channelMessages(fake.channelIds.other);
    expect(reply).toMatchObject({ content: 'pong', type: 19, author: { id: fake.botUser.id } });
  });

  it('replies to a DM', async () => {
    bot = await startPongBot(fake.apiUrl, fake.token);
    const sent = fake.sendUserMessage({ content: 'hi there', dm: true });
    expect(sent.channel_type).toBe(1);
    expect(sent.guild_id).toBeUndefined();

    await fake.waitForRequest(isMessagePost(sent.channel_id));
    expect(fake.channelMessages(sent.channel_id).map((m) => m.content)).toEqual(['pong']);
  });

  it('resumes after the gateway connection drops and keeps answering', async () => {
    bot = await startPongBot(fake.apiUrl, fake.token);
    await fake.waitForReady(1);

    fake.dropGateway();
    // Sent while disconnected: buffered by the fake and replayed on RESUME.
    fake.sendUserMessage({ content: 'are you there?', mentionsBot: true });
    await fake.waitForReady(2);
    expect(fake.gatewayReceived.some((p) => p.op === 6)).toBe(true);

    await fake.waitForRequest(isMessagePost(fake.channelIds.general));
    const { callback } = fake.sendInteraction({ commandName: 'ping' });
    expect((await callback).body).toMatchObject({ data: { content: 'pong' } });
  });

  it('rejects login with a wrong token (TokenInvalid)', async () => {
    await expect(startPongBot(fake.apiUrl, 'not-the-token')).rejects.toMatchObject({ code: 'TokenInvalid' });
    expect(fake.requests.some((r) => r.path === '/gateway/bot' && r.status === 401)).toBe(true);
  });

  it('deduplicates message creates with enforce_nonce', async () => {
    bot = await startPongBot(fake.apiUrl, fake.token);
    const route = Routes.channelMessages(fake.channelIds.general);
    const body = { content: 'once', nonce: 'nonce-123', enforce_nonce: true };
    const first = (await bot.client.rest.post(route, { body })) as { id: string };
    const second = (await bot.client.rest.post(route, { body })) as { id: string };
    expect(second.id).toBe(first.id);
    expect(fake.channelMessages(fake.channelIds.general)).toHaveLength(1);
  });

  it('surfaces an injected 404 as DiscordAPIError 10003', async () => {
    bot = await startPongBot(fake.apiUrl, fake.token);
    fake.failChannelPosts(fake.channelIds.general, 404);
    const channel = await bot.client.channels.fetch(fake.channelIds.general);
    if (!channel?.isSendable()) throw new Error('general is not sendable');

    const error = await channel.send('hello').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiscordAPIError);
    expect((error as DiscordAPIError).code).toBe(10003);
    // The failure was one-shot: the next send goes through.
    await expect(channel.send('again')).resolves.toMatchObject({ content: 'again' });
  });
});
