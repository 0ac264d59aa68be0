/** The one way the Matrix adapter's events leave: rendered replies and notices, digest posts, retries. */
import { createHash } from 'node:crypto';
import pRetry from 'p-retry';
import type { Logger } from 'pino';
import type { Reply } from '../../core/reply.js';
import type { FindResult } from '../../digest/port.js';
import { ReplyQueue, type SendBudget } from '../reply-queue.js';
import type { RoomEncryption } from './crypto.js';
import { classifyMatrixError, HomeserverError, homeserverError } from './errors.js';
import { renderMatrix } from './render.js';
import type { Session } from './session.js';

/**
 * A homeserver's send budget for replies: no global figure (a homeserver answers 429 with retry_after_ms,
 * honoured per send); 10 per second, 8 in flight.
 */
const REPLY_BUDGET: SendBudget = { perSecond: 10, concurrency: { interaction: 8, message: 8 } };

/** Event content field that carries a digest post's idempotency key (clients ignore unknown fields). */
const DIGEST_KEY_FIELD = 'org.kernel-status-bot.digest';

function digestTxnId(key: string): string {
  return `digest-${key}`;
}

/** A transaction id derived from `seed` (an event id, a room and slot): the same seed always sends the same event. */
export function hashedTxnId(kind: string, seed: string): string {
  return `${kind}-${createHash('sha256').update(seed).digest('hex').slice(0, 24)}`;
}

/** The transaction id of the reply to `eventId`: the same for every attempt, across restarts. */
export function replyTxnId(eventId: string): string {
  return hashedTxnId('r', eventId);
}

export interface SendOptions {
  prefix: string;
  /** Send retries on 429/5xx (tests shorten the waits). */
  retry?: { retries: number; minTimeoutMs: number };
}

/** A room event as GET /messages returns it (`unsigned.transaction_id` only on this device's own events). */
type PastEvent = { sender?: string; origin_server_ts?: number; content?: Record<string, unknown>; unsigned?: { transaction_id?: string } };

/** Renders and sends: replies through a bounded queue, notices and digest posts directly. */
export class MatrixSender {
  private readonly replies: ReplyQueue;

  constructor(
    private readonly session: Session,
    private readonly encryption: RoomEncryption,
    private readonly opts: SendOptions,
    log: Logger,
  ) {
    this.replies = new ReplyQueue(REPLY_BUDGET, log);
  }

  /** Queues the answer to `eventId` (a rich reply, sent with a transaction id derived from the event id). */
  reply(roomId: string, reply: Reply, eventId: string): void {
    const rendered = renderMatrix(reply, this.opts.prefix, eventId);
    const txnId = replyTxnId(eventId);
    this.replies.push('message', () => this.send(roomId, rendered, txnId));
  }

  /** Sends a short notice (not a reply) now; `txnId` makes a repeat of the same notice one event. */
  notice(roomId: string, summary: string, txnId: string): Promise<void> {
    return this.send(roomId, renderMatrix({ kind: 'info', summary }, this.opts.prefix), txnId);
  }

  stats(): { pending: number; shed: number } {
    return { pending: this.replies.pending, shed: this.replies.shed };
  }

  /** Drops the waiting replies and gives sends in flight `graceMs` to finish. */
  close(graceMs: number): Promise<{ dropped: number; unfinished: number }> {
    return this.replies.close(graceMs);
  }

  /**
   * One PUT (the scheduler retries), encrypted in an encrypted room. The key is the transaction id (the
   * homeserver shows it back to this device as `unsigned.transaction_id`) and, in a plain room, a content field.
   */
  async post(roomId: string, reply: Reply, key: string): Promise<void> {
    try {
      const { type, content } = await this.encryption.seal(roomId, { ...renderMatrix(reply, this.opts.prefix), [DIGEST_KEY_FIELD]: key });
      const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${type}/${encodeURIComponent(digestTxnId(key))}`;
      await this.session.client.doRequest('PUT', path, null, content);
    } catch (err) {
      throw classifyMatrixError(err, `room ${roomId}`);
    }
  }

  /** Looks for an event of ours with the key among the room's last 100 events. */
  async findPost(roomId: string, key: string, since: number): Promise<FindResult> {
    const page = await this.lastEvents(roomId);
    if (!page) return 'unknown';
    const chunk = page.chunk ?? [];
    const mine = (e: PastEvent) =>
      e.sender === this.session.userId && (e.unsigned?.transaction_id === digestTxnId(key) || e.content?.[DIGEST_KEY_FIELD] === key);
    if (chunk.some(mine)) return 'found';
    const oldest = chunk.at(-1)?.origin_server_ts;
    const reachesBack = page.end === undefined || (oldest !== undefined && oldest <= since);
    return reachesBack ? 'absent' : 'unknown';
  }

  /** The transaction ids of this device's events among the room's last 100 (empty when they cannot be read). */
  async ownTxnIds(roomId: string): Promise<Set<string>> {
    const page = await this.lastEvents(roomId);
    const ids = new Set<string>();
    for (const e of page?.chunk ?? []) if (e.sender === this.session.userId && e.unsigned?.transaction_id) ids.add(e.unsigned.transaction_id);
    return ids;
  }

  private async lastEvents(roomId: string): Promise<{ chunk?: PastEvent[]; end?: string } | undefined> {
    try {
      return (await this.session.client.doRequest('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages`, { dir: 'b', limit: 100 })) as {
        chunk?: PastEvent[];
        end?: string;
      };
    } catch {
      return undefined;
    }
  }

  /**
   * PUT with our own transaction id (a retried send reuses it, so the homeserver stores one event); 429 waits
   * `retry_after_ms`, 5xx backs off; 4xx other than 429 fails at once. In an encrypted room the content is
   * encrypted once, before the first attempt (retries send the same ciphertext).
   */
  private async send(roomId: string, message: object, txnId: string): Promise<void> {
    const { type, content } = await this.encryption.seal(roomId, message);
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${type}/${encodeURIComponent(txnId)}`;
    const put = () =>
      (this.session.client.doRequest('PUT', path, null, content) as Promise<unknown>).catch((err: unknown) => Promise.reject(homeserverError(err)));
    // The first attempt goes out at once; only a failure pays for setting up the retries, which take
    // it over as their own first attempt (same waits and limits as if pRetry had made it).
    const first = put();
    try {
      await first;
      return;
    } catch {
      // handled below
    }
    const r = this.opts.retry ?? { retries: 4, minTimeoutMs: 500 };
    await pRetry((attempt) => (attempt === 1 ? first : put()), {
      retries: r.retries,
      minTimeout: r.minTimeoutMs,
      maxTimeout: 30_000,
      // Every 429, every 5xx whatever its body (JSON, plain text, HTML) and every connection error.
      shouldRetry: ({ error }) => (error instanceof HomeserverError ? error.retryable : false),
      onFailedAttempt: async ({ error }) => {
        const wait = error instanceof HomeserverError ? error.retryAfterMs : undefined;
        if (wait) await new Promise((res) => setTimeout(res, Math.min(wait, 60_000)));
      },
    });
  }
}
