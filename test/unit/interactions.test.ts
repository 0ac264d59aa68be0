/**
 * POST /interactions' logic in process (the e2e test runs it through three replicas): signature and timestamp
 * checks at their edges, and a reply that is not ready in time: deferred at once, completed by the follow-up.
 */
import { sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { defineCommand } from '../../src/core/command.js';
import { Interactions, MAX_SKEW_MS } from '../../src/ops/interactions.js';
import { appKeys, interaction } from '../fakes/discord/http-interactions.js';
import { captureLogger, makeBot } from '../support/bot.js';

const keys = appKeys();
const NOW = 1_800_000_000_000;

function signed(body: unknown, tsSeconds = NOW / 1000, k = keys) {
  const raw = Buffer.from(JSON.stringify(body));
  const ts = String(tsSeconds);
  return {
    headers: { 'x-signature-ed25519': sign(null, Buffer.concat([Buffer.from(ts), raw]), k.privateKey).toString('hex'), 'x-signature-timestamp': ts },
    raw,
  };
}

const slow = defineCommand({
  name: 'slow',
  description: 'answers after 2.5 s',
  examples: ['slow'],
  run: async () => {
    await new Promise((r) => setTimeout(r, 2500));
    return { kind: 'info', title: 'Slow answer', summary: 'done' };
  },
});

async function endpoint() {
  const { bot } = await makeBot({ extra: [slow] });
  const followUps: { app: string; token: string; body: any }[] = [];
  const answered: string[] = [];
  const ix = new Interactions({
    publicKey: keys.publicKeyHex,
    bot,
    logger: captureLogger().logger,
    now: () => NOW,
    followUp: async (app, token, body) => void followUps.push({ app, token, body }),
    onAnswered: (k) => answered.push(k),
  });
  return { ix, followUps, answered };
}

describe('POST /interactions', () => {
  it('GIVEN signatures and timestamps at the edges THEN only a valid signature within 5 minutes passes', async () => {
    const { ix, answered } = await endpoint();
    const body = interaction({ type: 1 });
    const ok = signed(body);
    expect(await ix.handle(ok.headers, ok.raw)).toEqual({ status: 200, body: { type: 1 } });
    const edge = signed(body, (NOW - MAX_SKEW_MS) / 1000);
    expect((await ix.handle(edge.headers, edge.raw)).status).toBe(200);
    const late = signed(body, (NOW - MAX_SKEW_MS) / 1000 - 1);
    expect((await ix.handle(late.headers, late.raw)).status).toBe(401);
    const future = signed(body, (NOW + MAX_SKEW_MS) / 1000 + 1);
    expect((await ix.handle(future.headers, future.raw)).status).toBe(401);
    // the body changed after signing, another key, no or malformed headers
    expect((await ix.handle(ok.headers, Buffer.from(JSON.stringify({ ...body, type: 2 })))).status).toBe(401);
    const other = signed(body, NOW / 1000, appKeys());
    expect((await ix.handle(other.headers, other.raw)).status).toBe(401);
    expect((await ix.handle({}, ok.raw)).status).toBe(401);
    expect((await ix.handle({ ...ok.headers, 'x-signature-ed25519': 'zz' }, ok.raw)).status).toBe(401);
    expect((await ix.handle({ ...ok.headers, 'x-signature-timestamp': 'soon' }, ok.raw)).status).toBe(401);
    expect(answered.filter((a) => a === 'rejected')).toHaveLength(7);
  });

  it('GIVEN a signed body that is not JSON or an unknown type THEN 400, never a crash', async () => {
    const { ix } = await endpoint();
    const raw = Buffer.from('not json');
    const ts = String(NOW / 1000);
    const headers = { 'x-signature-ed25519': sign(null, Buffer.concat([Buffer.from(ts), raw]), keys.privateKey).toString('hex'), 'x-signature-timestamp': ts };
    expect((await ix.handle(headers, raw)).status).toBe(400);
    const odd = signed({ type: 99, id: '1', token: 't', application_id: '2' });
    expect((await ix.handle(odd.headers, odd.raw)).status).toBe(400);
  });

  it('GIVEN a reply not ready within 2 s THEN a deferred response at once, completed by the follow-up', async () => {
    const { ix, followUps, answered } = await endpoint();
    const body = interaction({ type: 2, name: 'slow', options: [{ name: 'hide', type: 5, value: true }] });
    const req = signed(body);
    const first = await ix.handle(req.headers, req.raw);
    expect(first).toEqual({ status: 200, body: { type: 5, data: { flags: 64 } } });
    expect(followUps).toEqual([]);
    for (let i = 0; i < 200 && followUps.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(followUps).toHaveLength(1);
    expect(followUps[0]).toMatchObject({ app: body.application_id, token: body.token });
    expect(followUps[0]!.body.embeds[0].title).toBe('Slow answer');
    expect(followUps[0]!.body.allowed_mentions).toEqual({ parse: [], replied_user: false });
    expect(answered).toEqual(['deferred']);
  });
});
