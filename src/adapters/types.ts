import type { Reply } from '../core/reply.js';

/** Connection state of an adapter, for /readyz and metrics. */
export interface AdapterStatus {
  connected: boolean;
  reason?: string;
}

/** A chat platform behind the bot. The core never sees the platform's types. */
export interface ChatAdapter {
  readonly platform: 'discord' | 'matrix';
  start(): Promise<void>;
  /** Stops taking messages, waits for replies in flight, disconnects. */
  stop(): Promise<void>;
  status(): AdapterStatus;
  /**
   * Posts a reply as an ordinary channel/room message (digests). `key` is an
   * idempotency key: posting twice with the same key shows one message.
   * Throws DeliveryError.
   */
  post(channelId: string, reply: Reply, key: string): Promise<void>;
}

/** A failed post: `permanent` when the channel is gone or forbids the bot (do not retry). */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** Waits until every tracked promise has settled (replies in flight at shutdown). */
export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();
  track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }
  get size(): number {
    return this.pending.size;
  }
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
