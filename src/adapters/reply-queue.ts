import type { Logger } from 'pino';

/** Interactions (Discord slash commands and autocomplete: answered within 3 s or failed) go before messages. */
export type Lane = 'interaction' | 'message';

/** What a platform can send: its budget, from which the queue's bounds are derived. */
export interface SendBudget {
  /** Replies the platform takes per second (Discord: its global 50 per second). */
  perSecond: number;
  /** Sends in flight per lane. */
  concurrency: Record<Lane, number>;
}

/** How long a reply may wait, per lane: longer and it is no use (an interaction is dead after 3 s). */
const MAX_WAIT_SECONDS: Record<Lane, number> = { interaction: 3, message: 10 };
/**
 * A waiting reply older than this when its turn comes is dropped (shed) instead of started: Discord refuses an
 * interaction answered after 3 s, and an answer a minute late to a mention in a flooded channel is noise.
 */
const MAX_AGE_MS: Record<Lane, number> = { interaction: 3000, message: 60_000 };

interface Waiting {
  send: () => Promise<void>;
  at: number;
}
const SHED_LOG_INTERVAL_MS = 10_000;

/**
 * The pending replies of one platform, bounded: each lane holds at most what the platform's send budget can
 * deliver within the lane's useful wait (budget × wait). Past that, the oldest waiting reply of the lane is
 * dropped ("shed"), counted, and logged once per interval, never per message: memory stays bounded whatever
 * the input rate, and the newest questions are the ones answered. A reply that has waited past its lane's
 * useful age is shed too when its turn comes. Interactions have a lane of their own, so they never wait behind
 * a backlog of mentions.
 */
export class ReplyQueue {
  private readonly waiting: Record<Lane, Waiting[]> = { interaction: [], message: [] };
  private readonly running: Record<Lane, number> = { interaction: 0, message: 0 };
  private readonly capacity: Record<Lane, number>;
  private shedTotal = 0;
  private shedUnlogged = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private idle?: () => void;

  constructor(
    private readonly budget: SendBudget,
    private readonly log: Logger,
  ) {
    this.capacity = {
      interaction: Math.ceil(budget.perSecond * MAX_WAIT_SECONDS.interaction),
      message: Math.ceil(budget.perSecond * MAX_WAIT_SECONDS.message),
    };
  }

  /** Replies dropped because a lane was full, since start. */
  get shed(): number {
    return this.shedTotal;
  }

  /** Replies waiting (not yet sending). */
  get pending(): number {
    return this.waiting.interaction.length + this.waiting.message.length;
  }

  /** Queues a send; it runs when the lane has a free slot. A closed queue drops it. Never rejects. */
  push(lane: Lane, send: () => Promise<void>): void {
    if (this.closed) return;
    const q = this.waiting[lane];
    if (q.length >= this.capacity[lane]) {
      q.shift();
      this.countShed();
    }
    q.push({ send, at: performance.now() });
    this.pump(lane);
  }

  /**
   * Stops taking replies and drops those still waiting; waits up to `graceMs` for the sends in flight.
   * Returns how many were dropped (waiting) and how many were still sending at the deadline.
   */
  async close(graceMs: number): Promise<{ dropped: number; unfinished: number }> {
    this.closed = true;
    const dropped = this.pending;
    this.waiting.interaction = [];
    this.waiting.message = [];
    this.flushShedLog();
    clearInterval(this.timer);
    const inFlight = () => this.running.interaction + this.running.message;
    if (inFlight() > 0) {
      let deadline: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((r) => (this.idle = r)), new Promise<void>((r) => (deadline = setTimeout(r, graceMs)))]);
      clearTimeout(deadline);
    }
    return { dropped, unfinished: inFlight() };
  }

  private pump(lane: Lane): void {
    while (this.running[lane] < this.budget.concurrency[lane] && this.waiting[lane].length > 0) {
      const { send, at } = this.waiting[lane].shift()!;
      if (performance.now() - at > MAX_AGE_MS[lane]) {
        this.countShed();
        continue;
      }
      this.running[lane] += 1;
      send()
        .catch((err: unknown) => this.log.error({ err, lane }, 'reply not sent'))
        .finally(() => {
          this.running[lane] -= 1;
          this.pump(lane);
          if (this.closed && this.running.interaction + this.running.message === 0) this.idle?.();
        });
    }
  }

  private countShed(): void {
    this.shedTotal += 1;
    this.shedUnlogged += 1;
    this.timer ??= setInterval(() => this.flushShedLog(), SHED_LOG_INTERVAL_MS).unref();
  }

  private flushShedLog(): void {
    if (this.shedUnlogged === 0) return;
    this.log.warn({ shed: this.shedUnlogged, total: this.shedTotal, capacity: this.capacity }, 'reply queue full: oldest unanswered messages dropped');
    this.shedUnlogged = 0;
  }
}
