import type { Reply } from '../core/reply.js';

/**
 * How a failed post should be handled: `permanent` (the channel is gone or forbids the bot: do not retry),
 * `transient` (retry with backoff), `retry-after` (retry after `retryAfterMs`, the platform's own wait).
 */
export type DeliveryFailure = 'permanent' | 'transient' | 'retry-after';

/** A failed post attempt, classified for the scheduler, which owns the retries. */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    message: string,
    readonly kind: DeliveryFailure,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  get permanent(): boolean {
    return this.kind === 'permanent';
  }
}

/** Whether a post with a given key is among a channel's recent messages. */
export type FindResult = 'found' | 'absent' | 'unknown';

/**
 * What the digest scheduler needs from a platform (a chat adapter, or the console).
 * `post` makes ONE attempt and throws a classified {@link DeliveryError}; retries belong to the scheduler.
 */
export interface Poster {
  /** Posts `reply` to a channel or room. A repeated `key` within `dedupWindowMs` shows one message. */
  post(channelId: string, reply: Reply, key: string): Promise<void>;
  /** How long the platform de-duplicates a repeated key; absent: forever. */
  readonly dedupWindowMs?: number;
  /**
   * Looks for a post with `key` among the channel's messages since `since` (ms since epoch): `found`,
   * `absent` (the messages read reach back to `since` and none has the key), or `unknown`.
   */
  findPost?(channelId: string, key: string, since: number): Promise<FindResult>;
}
