/**
 * Mentions missed during a gateway failover (src/adapters/discord/missed.ts) on a real PostgreSQL: the
 * one-answer guarantee between replicas and the seen channels that the next gateway holder reads back.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { MissedMentions, snowflakeAt } from '../../src/adapters/discord/missed.js';
import { sharedPostgres } from '../support/postgres.js';

const log = pino({ level: 'silent' });
const { replicas } = sharedPostgres('mm');

describe('missed mentions', () => {
  it('a message is claimed by exactly one of several replicas racing for it; again only after its expiry', async () => {
    const stores = await replicas(3);
    const mm = stores.map((store) => new MissedMentions({ store, log }));
    for (let i = 0; i < 50; i++) {
      const won = await Promise.all(mm.map((m) => m.claim(`10000${i}`)));
      expect(won.filter(Boolean)).toHaveLength(1);
    }
    expect(await stores[0]!.markHandled('x', 50)).toBe(true);
    expect(await stores[1]!.markHandled('x', 50)).toBe(false);
    const end = Date.now() + 10_000;
    let again = false;
    while (!again && Date.now() < end) again = await stores[1]!.markHandled('x', 50);
    expect(again).toBe(true);
    for (const s of stores) await s.close();
  });

  it('answers anyway (no lost message) when the database cannot record the claim', async () => {
    const [store] = await replicas(1);
    const m = new MissedMentions({ store: store!, log });
    await store!.close();
    expect(await m.claim('123')).toBe(true);
  });

  it('the holder records the newest id per channel (merged with earlier holders, newest winning, most active channels kept)', async () => {
    const [s1, s2] = await replicas(2);
    const old = new MissedMentions({ store: s1!, log, flushEveryMs: 10 });
    old.seen('111', '500');
    old.seen('222', '700');
    old.seen('111', '400'); // older id: 500 stays
    await old.stop();
    expect(JSON.parse((await s1!.getState('discord:seen'))!)).toEqual({ 111: '500', 222: '700' });
    const next = new MissedMentions({ store: s2!, log, maxChannels: 2 });
    next.seen('333', '900');
    await next.stop();
    // Earlier holders' channels merged; at most two kept, the most recently active last.
    expect(JSON.parse((await s2!.getState('discord:seen'))!)).toEqual({ 222: '700', 333: '900' });
    await s1!.close();
    await s2!.close();
  });

  it('one process (no shared store): each message is claimed once, again only after twice the grace period', async () => {
    let now = 1_000_000;
    const m = new MissedMentions({ log, graceMs: 1000, now: () => now });
    expect(await m.claim('1')).toBe(true);
    expect(await m.claim('1')).toBe(false);
    expect(await m.claim('2')).toBe(true);
    now += 1999;
    expect(await m.claim('1')).toBe(false);
    now += 1;
    expect(await m.claim('1')).toBe(true);
    expect(await m.claim('2')).toBe(true);
    expect(await m.claim('2')).toBe(false);
  });

  it('one process: a flood of claims is remembered up to a bound, the oldest forgotten first', async () => {
    const m = new MissedMentions({ log });
    for (let i = 0; i < 20_500; i++) expect(await m.claim(String(i))).toBe(true);
    // The newest 20,000 are still claimed; the first ones made room.
    expect(await m.claim('20499')).toBe(false);
    expect(await m.claim('600')).toBe(false);
    expect(await m.claim('0')).toBe(true);
  });

  it('snowflakeAt: the id of a moment, comparable with message ids', () => {
    expect(snowflakeAt(1_420_070_400_000)).toBe('0');
    // Discord's documented example: 175928847299117063 was created at 2016-04-30T11:18:25.796Z.
    const at = Date.parse('2016-04-30T11:18:25.796Z');
    expect(BigInt(snowflakeAt(at))).toBeLessThanOrEqual(175928847299117063n);
    expect(BigInt(snowflakeAt(at + 1))).toBeGreaterThan(175928847299117063n);
  });
});
