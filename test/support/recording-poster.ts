import { DeliveryError } from '../../src/digest/port.js';
import type { Reply } from '../../src/core/reply.js';
import type { Poster } from '../../src/digest/port.js';

/**
 * A platform stand-in for scheduler tests: records posts and, like Discord's
 * nonce and Matrix's transaction id, shows a repeated idempotency key once.
 * `failures` makes the next posts fail (transient or permanent).
 */
export class RecordingPoster implements Poster {
  readonly posts: { channelId: string; reply: Reply; key: string }[] = [];
  readonly attempts: string[] = [];
  failures: ('transient' | 'gone')[] = [];

  async post(channelId: string, reply: Reply, key: string): Promise<void> {
    this.attempts.push(key);
    const f = this.failures.shift();
    if (f === 'gone') throw new DeliveryError('404 Unknown Channel', true);
    if (f === 'transient') throw new DeliveryError('500 Internal Server Error', false);
    if (!this.posts.some((p) => p.key === key)) this.posts.push({ channelId, reply, key });
  }
}
