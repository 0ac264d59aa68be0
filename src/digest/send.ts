import pRetry from 'p-retry';
import type { Logger } from 'pino';
import type { Reply } from '../core/reply.js';
import { digestContent } from './content.js';
import type { Lane } from './lanes.js';
import { DeliveryError, type Poster } from './port.js';
import type { SchedulerRun } from './scheduler-options.js';
import type { StorageHealth, Unrecorded } from './storage-health.js';
import type { Awaitable, Claim, Subscription } from './store.js';

type SendResult = 'posted' | 'found' | 'given-up';

/**
 * Sends one claimed slot in its platform's lane: posts it with retries and backoff (a failure the poster
 * classifies as permanent is not retried and disables the subscription), then records the outcome; an
 * outcome that cannot be written is kept by {@link StorageHealth} until it can.
 */
export class DigestSender {
  constructor(
    private readonly run: SchedulerRun,
    private readonly health: StorageHealth,
  ) {}

  /** Sends a claimed slot and records what came of it; nothing is recorded when the scheduler stops or no adapter runs (the slot stays claimed). */
  async deliver(sub: Subscription, claim: Claim, lane: Lane): Promise<void> {
    if (this.run.stopped) return; // queued behind the concurrency limit when shutdown began: stays claimed
    const poster = this.run.opts.posters.get(sub.platform);
    const log = this.run.log.child({ subscription: sub.id, platform: sub.platform, channel: sub.channelId, slot: new Date(claim.slot).toISOString() });
    if (!poster) {
      log.warn('no adapter for this platform is running; the slot stays claimed until one is');
      return;
    }
    const { reply, hashes } = digestContent(this.run.opts.knowledge.current.knowledge, sub, claim.position);
    let result: SendResult;
    try {
      result = await this.sendWithRetries(poster, sub, claim, reply, lane, log);
    } catch (err) {
      if (this.run.stopped) log.info('shutdown during a digest send; the slot stays claimed and is re-sent with the same key at start-up');
      else await this.recordFailure(sub, claim, log, err);
      return;
    }
    const failed: Unrecorded = { claim, state: 'failed', hashes: sub.lastHashes };
    if (result === 'given-up') {
      await this.record(sub.id, log, () => this.run.opts.store.finish(claim, 'failed', sub.lastHashes), failed);
      log.warn(
        "an earlier send of this slot is past the platform's de-duplication window and the channel's recent messages cannot show whether it arrived; slot given up rather than risk posting it twice",
      );
      this.run.opts.onDelivery?.('given-up');
      return;
    }
    await this.record(sub.id, log, () => this.run.opts.store.finish(claim, 'delivered', hashes), { claim, state: 'delivered', hashes });
    log.info(result === 'found' ? 'digest was already posted (found in the channel); recorded' : 'digest delivered');
    this.run.opts.onDelivery?.(result === 'found' ? 'found' : 'delivered');
  }

  /** Attempts with backoff; a permanent failure is not retried, and the platform's own wait comes on top of the backoff. */
  private sendWithRetries(poster: Poster, sub: Subscription, claim: Claim, reply: Reply, lane: Lane, log: Logger): Promise<SendResult> {
    const r = this.run.opts.retry ?? { retries: 5, minTimeoutMs: 1000, maxTimeoutMs: 60_000 };
    return pRetry((n) => this.attempt(poster, sub, claim, reply, lane, n), {
      retries: r.retries,
      minTimeout: r.minTimeoutMs,
      maxTimeout: r.maxTimeoutMs,
      signal: this.run.signal,
      shouldRetry: ({ error }) => !(error instanceof DeliveryError && error.permanent),
      onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
        if (retriesLeft <= 0 || (error instanceof DeliveryError && error.permanent)) return;
        log.warn({ err: error, attempt: attemptNumber }, 'digest send failed; retrying');
        if (error instanceof DeliveryError && error.kind === 'retry-after' && error.retryAfterMs)
          await this.pause(Math.min(error.retryAfterMs, r.maxTimeoutMs));
      },
    });
  }

  /**
   * One attempt. A slot that may have been posted already (a retry, or a claim from before a crash) is
   * looked for in the channel first. It is sent with its key, which the platform de-duplicates only within
   * its window (counted from the claim, before any send of it): past that window, a slot whose post can be
   * neither found nor ruled out is given up rather than risk showing twice.
   */
  private async attempt(poster: Poster, sub: Subscription, claim: Claim, reply: Reply, lane: Lane, attemptNumber: number): Promise<SendResult> {
    if (claim.resumed || attemptNumber > 1) {
      const since = claim.claimedAt ?? this.run.now();
      const findPost = poster.findPost?.bind(poster);
      const found = findPost ? await lane.paced(() => findPost(sub.channelId, claim.key, since)) : 'unknown';
      if (found === 'found') return 'found';
      if (found === 'unknown' && this.run.now() - since > (poster.dedupWindowMs ?? Number.POSITIVE_INFINITY)) return 'given-up';
    }
    await lane.paced(() => poster.post(sub.channelId, reply, claim.key));
    return 'posted';
  }

  /** After the last attempt failed: a permanent failure disables the subscription; either way the slot is dropped. */
  private async recordFailure(sub: Subscription, claim: Claim, log: Logger, err: unknown): Promise<void> {
    const failed: Unrecorded = { claim, state: 'failed', hashes: sub.lastHashes };
    if (err instanceof DeliveryError && err.permanent) {
      await this.record(sub.id, log, () => this.run.opts.store.disable(sub.id, err.message));
      await this.record(sub.id, log, () => this.run.opts.store.finish(claim, 'failed', sub.lastHashes), failed);
      log.warn({ err }, 'channel is gone or forbids the bot; digest disabled');
      this.run.opts.onDelivery?.('disabled');
      return;
    }
    await this.record(sub.id, log, () => this.run.opts.store.finish(claim, 'failed', sub.lastHashes), failed);
    log.error({ err }, 'digest send failed after retries; slot dropped');
    this.run.opts.onDelivery?.('failed');
  }

  /** Runs a store write; on a storage error keeps the outcome to write later and reports the error. */
  private async record(id: string, log: Logger, write: () => Awaitable<void>, pending?: Unrecorded): Promise<void> {
    try {
      await write();
    } catch (err) {
      if (pending) this.health.keep(id, pending);
      log.error({ err }, 'digest outcome could not be stored; kept in memory and written when storage works again');
      this.run.storageFailed(err, 'recording a digest outcome');
    }
  }

  /** Waits `ms`, or less when the scheduler stops. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.run.signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.run.signal.addEventListener('abort', done, { once: true });
    });
  }
}
