/**
 * The per-user rate limit shared through PostgreSQL (a real server): two limiters on one database stand for
 * two replicas; a user gets one budget across both, with the in-memory limiter's rules.
 */
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/core/rate-limit.js';
import { sharedPostgres } from '../support/postgres.js';

const { replicas } = sharedPostgres('rl');

describe('shared rate limit (PostgreSQL)', () => {
  it('gives a user one budget across replicas: burst, one warning, then silence; other users unaffected; same decisions as the in-memory limiter', async () => {
    const stores = await replicas(2);
    const [a, b] = stores.map((s) => s.rateLimiter(3, 1)); // 1 per minute: no refill within the test
    const seq = [];
    for (let i = 0; i < 6; i++) seq.push(await (i % 2 ? b! : a!).take('discord:u1'));
    expect(seq).toEqual(['allow', 'allow', 'allow', 'warn', 'drop', 'drop']);
    const mem = new RateLimiter(3, 1);
    expect(seq).toEqual(Array.from({ length: 6 }, () => mem.take('u1')));
    expect(await b!.take('discord:u2')).toBe('allow');
    expect(await a!.take('matrix:u1')).toBe('allow');
    for (const s of stores) await s.close();
  });

  it('refills at perMinute by the database clock, and a refilled user is warned again only after running dry again', async () => {
    const stores = await replicas(2);
    const [a, b] = stores.map((s) => s.rateLimiter(1, 600)); // one token per 100 ms
    expect(await a!.take('u')).toBe('allow');
    expect(await b!.take('u')).toBe('warn');
    let d = await a!.take('u');
    const end = Date.now() + 10_000;
    while (d !== 'allow' && Date.now() < end) d = await b!.take('u');
    expect(d).toBe('allow');
    expect(await a!.take('u')).toBe('warn');
    for (const s of stores) await s.close();
  });

  it('racing replicas never hand out more than the burst', async () => {
    const stores = await replicas(4);
    const limiters = stores.map((s) => s.rateLimiter(5, 1));
    const all = await Promise.all(Array.from({ length: 40 }, (_, i) => limiters[i % 4]!.take('busy')));
    expect(all.filter((d) => d === 'allow')).toHaveLength(5);
    expect(all.filter((d) => d === 'warn')).toHaveLength(1);
    for (const s of stores) await s.close();
  });

  it('falls back to a per-replica limit while the database cannot be reached (no error reaches the bot)', async () => {
    const [s] = await replicas(1);
    const l = s!.rateLimiter(2, 1);
    await s!.close();
    expect([await l.take('u'), await l.take('u'), await l.take('u')]).toEqual(['allow', 'allow', 'warn']);
  });
});
