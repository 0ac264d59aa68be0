import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/core/rate-limit.js';

describe('token bucket', () => {
  it('GIVEN time passes THEN tokens refill at the configured rate and the warning re-arms', () => {
    let now = 0;
    const rl = new RateLimiter(2, 60, () => now); // one token per second
    expect([rl.take('a'), rl.take('a'), rl.take('a'), rl.take('a')]).toEqual(['allow', 'allow', 'warn', 'drop']);
    now += 999;
    expect(rl.take('a')).toBe('drop');
    now += 1;
    expect(rl.take('a')).toBe('allow');
    expect(rl.take('a')).toBe('warn');
  });

  it('GIVEN more users than the cap THEN refilled buckets are forgotten, a drained one is kept, and the cap holds', () => {
    let now = 0;
    const rl = new RateLimiter(1, 60, () => now, 10); // one token per second
    for (let i = 0; i < 9; i++) expect(rl.take(`u${i}`)).toBe('allow');
    now = 1000; // u0..u8 have refilled
    expect([rl.take('hot'), rl.take('hot')]).toEqual(['allow', 'warn']);
    expect(rl.trackedUsers).toBe(10);
    now = 1500; // hot is still half a token short
    expect(rl.take('new')).toBe('allow');
    expect(rl.trackedUsers).toBe(2); // the nine refilled buckets went, hot and new stay
    expect(rl.take('hot')).toBe('drop'); // still limited: its bucket was not forgotten
    expect(rl.take('new')).toBe('warn');
  });

  it('GIVEN the cap full of drained users THEN it never grows past the cap', () => {
    let now = 0;
    const rl = new RateLimiter(1, 60, () => now, 10);
    for (let i = 0; i < 50; i++) {
      rl.take(`u${i}`);
      now += 10; // nobody refills in time
      expect(rl.trackedUsers).toBeLessThanOrEqual(10);
    }
  });
});
