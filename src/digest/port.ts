import type { Reply } from '../core/reply.js';

/**
 * What the digest feature needs from a platform: post a reply as an ordinary message into a channel or room.
 * Chat adapters and the console implement it.
 */
export interface Poster {
  /**
   * Posts `reply` into `channelId`. `key` is an idempotency key: posting twice with the same key shows one
   * message. Throws DeliveryError.
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
