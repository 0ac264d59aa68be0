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

  it('GIVEN more users than the cap THEN refilled buckets are forgotten, limits still hold', () => {
    let now = 0;
    const rl = new RateLimiter(1, 60, () => now, 10);
    for (let i = 0; i < 10; i++) rl.take(`u${i}`);
    now += 5000;
    expect(rl.take('new')).toBe('allow');
    expect(rl.take('new')).toBe('warn');
  });
});
