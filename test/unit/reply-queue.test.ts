import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ReplyQueue } from '../../src/adapters/reply-queue.js';

const log = pino({ level: 'silent' });

/** A send that finishes when the test says so, recording that it started. */
function gate(started: number[], id: number) {
  let open!: () => void;
  const done = new Promise<void>((r) => (open = r));
  const send = () => {
    started.push(id);
    return done;
  };
  return { send, open: () => open() };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('ReplyQueue', () => {
  afterEach(() => vi.useRealTimers());

  it('holds at most budget × useful wait per lane and sheds the oldest waiting replies', async () => {
    const q = new ReplyQueue({ perSecond: 50, concurrency: { interaction: 1, message: 1 } }, log);
    const started: number[] = [];
    const gates = Array.from({ length: 600 }, (_, i) => gate(started, i));
    for (const g of gates) q.push('message', g.send);
    // 1 sending, 500 waiting (50 per second × 10 s), 99 shed: the oldest waiting ones (1..99).
    expect(started).toEqual([0]);
    expect(q.pending).toBe(500);
    expect(q.shed).toBe(99);
    gates[0]!.open();
    await tick();
    expect(started).toEqual([0, 100]);
  });

  it('answers interactions in their own lane while messages are backed up', async () => {
    const q = new ReplyQueue({ perSecond: 50, concurrency: { interaction: 1, message: 1 } }, log);
    const started: number[] = [];
    for (let i = 0; i < 10; i++) q.push('message', gate(started, i).send);
    q.push('interaction', gate(started, 1000).send);
    expect(started).toEqual([0, 1000]);
  });

  it('sheds a reply that waited past its useful age when its turn comes, and sends the next one', async () => {
    vi.useFakeTimers({ toFake: ['performance', 'setInterval', 'clearInterval'] });
    const q = new ReplyQueue({ perSecond: 50, concurrency: { interaction: 1, message: 1 } }, log);
    const started: number[] = [];
    const first = gate(started, 0);
    q.push('message', first.send);
    q.push('message', gate(started, 1).send);
    vi.advanceTimersByTime(61_000);
    q.push('message', gate(started, 2).send);
    first.open();
    await tick();
    expect(started).toEqual([0, 2]);
    expect(q.shed).toBe(1);
  });

  it('on close drops what waits, reports it, and takes nothing more', async () => {
    const q = new ReplyQueue({ perSecond: 50, concurrency: { interaction: 1, message: 1 } }, log);
    const started: number[] = [];
    const first = gate(started, 0);
    q.push('message', first.send);
    for (let i = 1; i <= 3; i++) q.push('message', gate(started, i).send);
    const closing = q.close(1000);
    q.push('message', gate(started, 99).send);
    first.open();
    expect(await closing).toEqual({ dropped: 3, unfinished: 0 });
    expect(started).toEqual([0]);
  });
});
