import pLimit from 'p-limit';
import pRetry from 'p-retry';
import pThrottle from 'p-throttle';
import type { Logger } from 'pino';
import type { Reply } from '../core/reply.js';
import type { KnowledgeBase } from '../knowledge/base.js';
import { digestContent } from './content.js';
import { DeliveryError, type Poster } from './port.js';
import { nextSlots, previousSlot } from './schedule.js';
import type { Awaitable, Claim, DigestStore, SlotRequest, Subscription } from './store.js';

export type { Poster } from './port.js';

/** How fast digests may go out on one platform: sends in flight, and optionally sends (attempts) per second. */
export interface Pace {
  concurrency: number;
  perSecond?: number;
}

/** `found`: the post of an unfinished claim was found on the platform; `given-up`: it could not be told whether it exists, so the slot is given up rather than risk a second post. */
export type DeliveryOutcome = 'delivered' | 'failed' | 'disabled' | 'skipped' | 'found' | 'given-up';

export interface SchedulerOptions {
  store: DigestStore;
  knowledge: KnowledgeBase;
  posters: ReadonlyMap<string, Poster>;
  logger: Logger;
  /** A slot missed while the bot was down is posted once if younger than this; older ones are skipped. */
  catchUpGraceMs: number;
  /** Per platform; a platform not listed gets {@link DEFAULT_PACE}. Each platform has its own lane, so a slow one never holds up another. */
  pace?: Readonly<Record<string, Pace>>;
  /** Backoff of a failed send: retries, first and longest wait. */
  retry?: { retries: number; minTimeoutMs: number; maxTimeoutMs: number };
  now?: () => number;
  onDelivery?: (outcome: DeliveryOutcome) => void;
  /** Called for each failed read or write of the digest store (a full disk, a deleted file, an unreachable server). */
  onStorageError?: () => void;
  /** After a storage error, how long until planning is tried again (default 30 s). */
  storageRetryMs?: number;
  /**
   * Shared store only: how often this replica renews its claims' leases and takes over expired ones (a
   * quarter of the claim lease is right). Default 5 s.
   */
  renewEveryMs?: number;
  /** How many replicas share each platform's per-second pace (the live replica count); default 1. */
  paceShare?: () => number;
}

/** Finished delivery records are kept this long (for inspection), then pruned, at most once an hour. */
const KEEP_DELIVERIES_MS = 7 * 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;

export const DEFAULT_PACE: Pace = { concurrency: 8 };

const DEFAULT_STORAGE_RETRY_MS = 30_000;

/** A slot whose outcome is known but could not be written (storage error): written before anything else is planned. */
interface Unrecorded {
  claim: Claim;
  state: 'delivered' | 'failed';
  hashes: Record<string, string>;
}

interface Lane {
  limit: ReturnType<typeof pLimit>;
  /** Runs a send attempt within the platform's per-second budget (when it has one). */
  paced: <T>(f: () => Promise<T>) => Promise<T>;
  /** Shared store: due slots waiting to be claimed, claims taken and not yet finished, a claim batch in flight. */
  queue: { sub: Subscription; slot: number }[];
  open: number;
  claiming: boolean;
  /** How many slots to hold claimed at once: about one second of sends at this replica's share, at least two rounds of the concurrency. */
  batch: () => number;
}

type Paced = <T>(f: () => Promise<T>) => Promise<T>;

/** The idempotency key of a (subscription, slot): at most 25 characters (Discord's nonce limit). */
export function slotKey(subscriptionId: string, slot: number): string {
  return `${subscriptionId}-${slot.toString(36)}`.slice(0, 25);
}

/**
 * Posts digests at their slots. Each (subscription, slot) is claimed in the
 * store before it is sent and marked delivered after, so it is delivered at
 * most once; a claim left by a crash is re-sent with the same idempotency
 * key, which the platform de-duplicates.
 */
export class DigestScheduler {
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private readonly running = new Set<string>();
  /** Next slot per subscription, keyed by what it was computed from. */
  private prunedAt = 0;
  private readonly plan = new Map<string, { key: string; at: number | undefined }>();
  private readonly pending = new Set<Promise<void>>();
  private readonly lanes = new Map<string, Lane>();
  private readonly abort = new AbortController();
  private readonly now: () => number;
  private readonly log: Logger;
  private timerAt = Number.POSITIVE_INFINITY;
  private readonly unrecorded = new Map<string, Unrecorded>();
  private storageProblem: string | undefined;
  private lostReported = false;
  private recoverAt = 0;
  private renewTimer?: NodeJS.Timeout;
  /** Shared store: the slot each subscription had claimed by another replica (not tried again). */
  private readonly elsewhere = new Map<string, number>();
  /** A planning pass is running / another was asked for meanwhile. */
  private planning = false;
  private replan = false;

  constructor(private readonly opts: SchedulerOptions) {
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ component: 'digests' });
  }

  /**
   * Re-sends unfinished claims, catches up on missed slots (at most one each), then runs on schedule. With a
   * shared store it also renews its claims and takes over expired ones (a dead replica's) every `renewEveryMs`.
   */
  start(): void {
    this.stopped = false;
    this.track(this.resume().then(() => this.wake()));
    if (this.opts.store.shared) {
      const every = this.opts.renewEveryMs ?? 5000;
      this.renewTimer = setInterval(() => this.track(this.renewAndTakeOver()), every);
      this.renewTimer.unref?.();
    }
  }

  /** Work that `inFlight` and `stop()` wait for; its failure is logged, never thrown. */
  private track(p: Promise<void>): void {
    const t = p.catch((err: unknown) => this.storageFailed(err, 'using the digest store')).finally(() => this.pending.delete(t));
    this.pending.add(t);
  }

  /** Launches the unfinished claims this process should send (after a crash, or taken over from a dead replica). */
  private async resume(): Promise<void> {
    try {
      await this.resumeClaims();
    } catch (err) {
      this.storageFailed(err, 'reading unfinished claims');
    }
  }

  private async resumeClaims(): Promise<void> {
    for (const claim of await this.opts.store.unfinished()) {
      if (this.stopped) return;
      if (this.now() - claim.slot > this.opts.catchUpGraceMs) {
        this.log.warn({ subscription: claim.subscriptionId, slot: new Date(claim.slot).toISOString() }, 'unfinished digest claim is too old to re-send; dropped');
        await this.opts.store.finish(claim, 'failed', (await this.opts.store.get(claim.subscriptionId))?.lastHashes ?? {});
        continue;
      }
      const sub = this.readable(await this.opts.store.get(claim.subscriptionId));
      // Launched even when the subscription waits in a lane to be claimed: that claim would now fail, this one is ours.
      if (sub) {
        if (this.opts.store.shared) this.log.info({ subscription: sub.id, slot: new Date(claim.slot).toISOString() }, 'digest claim taken over; re-sending with its key');
        this.launch(sub, claim);
      }
    }
  }

  private async renewAndTakeOver(): Promise<void> {
    if (this.stopped) return;
    await this.opts.store.renewClaims();
    await this.resume();
  }

  /** Why digests cannot be stored now (a storage error, or the database file deleted), or undefined when they can. */
  problem(): string | undefined {
    const lost = this.opts.store.health?.();
    return lost ?? this.storageProblem;
  }

  private storageFailed(err: unknown, doing: string): void {
    const reason = `storage error while ${doing}: ${(err as Error).message}`;
    if (reason !== this.storageProblem) this.log.error({ err }, `digest ${reason}; digests wait until it can be written, questions are still answered`);
    this.storageProblem = reason;
    this.opts.onStorageError?.();
  }

  /** Writes outcomes that a storage error kept from being recorded (throws while storage still fails). */
  private async flushUnrecorded(): Promise<void> {
    for (const [id, u] of this.unrecorded) {
      await this.opts.store.finish(u.claim, u.state, u.hashes);
      this.unrecorded.delete(id);
    }
  }

  /** A deleted database file: reported once, then restored from the open connection at the storage retry pace. */
  private checkFile(): void {
    const lost = this.opts.store.health?.();
    if (!lost) {
      this.lostReported = false;
      return;
    }
    if (!this.lostReported) {
      this.lostReported = true;
      this.opts.onStorageError?.();
      this.log.error(`digest database problem: ${lost}; new subscriptions are refused until it is restored`);
      this.recoverAt = this.now() + (this.opts.storageRetryMs ?? DEFAULT_STORAGE_RETRY_MS);
    }
    if (this.now() < this.recoverAt || !this.opts.store.recover) return;
    this.recoverAt = this.now() + (this.opts.storageRetryMs ?? DEFAULT_STORAGE_RETRY_MS);
    this.opts.store.recover().then(
      (ok) => {
        if (ok) {
          this.lostReported = false;
          this.log.info('digest database file restored from the open database; subscriptions are taken again');
        }
      },
      (err: unknown) => this.log.error({ err }, 'digest database could not be restored; restart the bot to start from what is on disk'),
    );
  }

  /**
   * Re-plans (at each slot, after a subscribe or unsubscribe, and at least once a minute). Cheap for the
   * many subscriptions that are not due: each one's next slot is computed once per last slot and cached.
   * Due ones are claimed and launched in chunks, yielding to the event loop in between, so a fan-out of
   * thousands never holds up replies to people.
   */
  wake(): void {
    if (this.stopped) return;
    if (this.planning) {
      this.replan = true;
      return;
    }
    this.planning = true;
    clearTimeout(this.timer);
    this.track(
      this.planPass().finally(() => {
        this.planning = false;
        if (this.replan) {
          this.replan = false;
          this.wake();
        } else if (!this.stopped && !this.timer) this.retryLater();
      }),
    );
  }

  /** After a failed pass (the store was unreachable): plan again in a few seconds. */
  private retryLater(): void {
    this.timer = setTimeout(() => this.wake(), 5000);
    this.timer.unref?.();
  }

  private async planPass(): Promise<void> {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY; // a slot planned after a delivery during this pass sets it
    const now = this.now();
    let nextAt = now + 60_000;
    try {
      this.checkFile();
      await this.flushUnrecorded();
      const due: Subscription[] = [];
      const seen = new Set<string>();
      const subs = await this.opts.store.listEnabled((id, reason) => this.log.error({ subscription: id, reason }, 'digest subscription disabled: its stored row cannot be read'));
      for (const sub of subs) {
        const at = this.plannable(sub);
        if (at === null) continue;
        seen.add(sub.id);
        if (at === undefined) continue;
        if (at <= now) {
          if (!this.running.has(sub.id)) due.push(sub);
        } else nextAt = Math.min(nextAt, at);
      }
      for (const id of this.plan.keys()) if (!seen.has(id)) this.plan.delete(id);
      for (const id of this.elsewhere.keys()) if (!seen.has(id)) this.elsewhere.delete(id);
      if (now - this.prunedAt > PRUNE_EVERY_MS) {
        this.prunedAt = now;
        const n = await this.opts.store.prune(now - KEEP_DELIVERIES_MS);
        if (n > 0) this.log.info({ deleted: n }, 'pruned old delivery records');
      }
      if (this.storageProblem) this.log.info('digest storage works again');
      this.storageProblem = undefined;
      await this.runInChunks(due);
    } catch (err) {
      this.storageFailed(err, 'planning digests');
    }
    if (this.storageProblem) nextAt = Math.min(nextAt, now + (this.opts.storageRetryMs ?? DEFAULT_STORAGE_RETRY_MS));
    if (this.lostReported) nextAt = Math.min(nextAt, this.recoverAt);
    // Wake at the earliest slot (at least once a minute, so clock jumps are noticed).
    this.setTimer(Math.min(nextAt, this.timerAt));
  }

  private setTimer(at: number): void {
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.wake(), Math.max(0, at - this.now()) + 5);
    this.timer.unref?.();
  }

  /** After a slot is done: plans the subscription's next slot, which may come before the next planned wake (sub-minute schedules). */
  private async planNext(id: string): Promise<void> {
    if (this.stopped) return;
    try {
      const sub = this.readable(await this.opts.store.get(id));
      const at = sub?.enabled ? this.nextSlotOf(sub) : undefined;
      if (at !== undefined && at < this.timerAt) this.setTimer(at);
    } catch (err) {
      this.storageFailed(err, 'planning digests');
    }
  }

  /** The next slot, or null for a subscription just disabled because its schedule no longer parses. */
  private plannable(sub: Subscription): number | undefined | null {
    try {
      return this.nextSlotOf(sub);
    } catch (err) {
      if (err instanceof BadSubscription) return null;
      throw err;
    }
  }

  /** The subscription, or undefined (disabled with a log line) when its schedule no longer parses. */
  private readable(sub: Subscription | undefined): Subscription | undefined {
    if (!sub) return undefined;
    return this.plannable(sub) === null ? undefined : sub;
  }

  /** Disables a subscription without waiting for an asynchronous store; a failed write is a storage error (planning retries it). */
  private disableQuietly(id: string, reason: string): void {
    try {
      const done = this.opts.store.disable(id, reason);
      if (done instanceof Promise) done.catch((err: unknown) => this.storageFailed(err, 'disabling a digest subscription'));
    } catch (err) {
      this.storageFailed(err, 'disabling a digest subscription');
    }
  }

  /**
   * The first slot after the subscription's last one (or its creation), cached until that changes. A schedule
   * that no longer parses (a stored row from another version) disables that subscription with a log line.
   */
  private nextSlotOf(sub: Subscription): number | undefined {
    const key = `${sub.schedule}\u0000${sub.timezone}\u0000${sub.lastSlot ?? sub.createdAt}`;
    const cached = this.plan.get(sub.id);
    if (cached?.key === key) return cached.at;
    let at: number | undefined;
    try {
      at = nextSlots(sub.schedule, sub.timezone, new Date(sub.lastSlot ?? sub.createdAt), 1)[0]?.getTime();
    } catch (err) {
      const reason = `schedule "${sub.schedule}" (${sub.timezone}) no longer parses: ${(err as Error).message}`;
      this.disableQuietly(sub.id, reason);
      this.log.error({ subscription: sub.id, reason }, 'digest subscription disabled: its stored schedule cannot be used');
      this.plan.delete(sub.id);
      throw new BadSubscription(reason);
    }
    this.plan.set(sub.id, { key, at });
    return at;
  }

  private async runInChunks(subs: Subscription[]): Promise<void> {
    // Shared store: every replica starts at its own place in the list, so their claim batches rarely overlap.
    if (this.opts.store.shared && subs.length > 1) {
      const at = Math.floor(Math.random() * subs.length);
      subs = [...subs.slice(at), ...subs.slice(0, at)];
    }
    try {
      for (let from = 0; from < subs.length && !this.stopped; from += 100) {
        if (from > 0) await new Promise((resolve) => setImmediate(resolve));
        const end = Math.min(subs.length, from + 100);
        for (let i = from; i < end && !this.stopped; i++) await this.runDue(subs[i]!);
      }
    } catch (err) {
      // Nothing was claimed for the failed one; the next pass (after the storage retry wait) tries again.
      this.storageFailed(err, 'claiming digest slots');
    }
  }

  /**
   * Stops planning, aborts backoff waits, and waits up to `waitMs` for sends in flight (a platform that
   * never answers must not hold up shutdown); an unfinished claim stays claimed for the next start.
   */
  async stop(waitMs = 5000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.renewTimer);
    this.abort.abort();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
    const drained = (async () => {
      while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    })();
    await Promise.race([drained, deadline]);
    clearTimeout(timer);
    if (this.pending.size > 0) this.log.warn({ inFlight: this.pending.size }, 'digest sends still in flight at shutdown; their slots stay claimed and are re-sent with the same key at start-up');
  }

  /** Sends still in flight. */
  get inFlight(): number {
    return this.pending.size;
  }

  private async runDue(sub: Subscription): Promise<void> {
    if (this.running.has(sub.id) || this.unrecorded.has(sub.id)) return;
    const slot = previousSlot(sub.schedule, sub.timezone, new Date(this.now()))?.getTime();
    if (slot === undefined || slot <= (sub.lastSlot ?? sub.createdAt)) return;
    if (this.now() - slot > this.opts.catchUpGraceMs) {
      this.log.info({ subscription: sub.id, slot: new Date(slot).toISOString() }, 'missed digest slot is older than the catch-up grace; skipped');
      await this.opts.store.skip(sub.id, slot);
      this.opts.onDelivery?.('skipped');
      return;
    }
    // Shared store: claimed in batches as the lane has room, so replicas split a fan-out by how fast each sends.
    if (this.opts.store.shared) return this.enqueue(sub, slot);
    const claim = await this.opts.store.claim(sub.id, slot, slotKey(sub.id, slot));
    if (claim) this.launch(sub, claim);
  }

  private lane(platform: string): Lane {
    let lane = this.lanes.get(platform);
    if (!lane) {
      const pace = this.opts.pace?.[platform] ?? DEFAULT_PACE;
      const perSecond = pace.perSecond;
      // One throttle per share of the budget; a change in the live replica count switches to another.
      const throttles = new Map<number, Paced>();
      const throttled = (limit: number): Paced => {
        let t = throttles.get(limit);
        if (!t) {
          const wrapped = pThrottle({ limit, interval: 1000, strict: true, signal: this.abort.signal })(<T>(f: () => Promise<T>) => f());
          t = <T>(f: () => Promise<T>) => wrapped(f) as Promise<T>;
          throttles.set(limit, t);
        }
        return t;
      };
      const share = () => Math.max(1, Math.floor(perSecond! / Math.max(1, this.opts.paceShare?.() ?? 1)));
      lane = {
        limit: pLimit(pace.concurrency),
        paced: perSecond ? (f) => throttled(share())(f) : (f) => f(),
        queue: [],
        open: 0,
        claiming: false,
        batch: () => Math.max(2 * pace.concurrency, perSecond ? share() : 0),
      };
      this.lanes.set(platform, lane);
    }
    return lane;
  }

  /** Shared store: a due slot waits in its lane until the lane claims the next batch. */
  private enqueue(sub: Subscription, slot: number): void {
    if (this.elsewhere.get(sub.id) === slot) return; // another replica has it (a dead one's is taken over by `unfinished`)
    this.running.add(sub.id);
    const lane = this.lane(sub.platform);
    lane.queue.push({ sub, slot });
    this.track(this.claimBatches(lane));
  }

  /**
   * Claims the lane's queued slots in batches (one round trip each) while at most half a batch is claimed and
   * unfinished; a slot another replica got is dropped here and not tried again.
   */
  private async claimBatches(lane: Lane): Promise<void> {
    if (lane.claiming) return;
    lane.claiming = true;
    try {
      // Refilled at half a batch, so a steady fan-out costs one round trip per half batch, not one per send.
      while (!this.stopped && lane.queue.length > 0 && lane.open <= lane.batch() / 2) {
        const take = lane.queue.splice(0, lane.batch() - lane.open);
        let claims: Claim[];
        try {
          const wanted = take.map(({ sub, slot }) => ({ id: sub.id, slot, key: slotKey(sub.id, slot) }));
          claims = this.opts.store.claimMany ? await this.opts.store.claimMany(wanted) : await this.claimEach(wanted);
        } catch (err) {
          // Nothing was claimed: the whole queue goes back to planning, which tries again after the storage retry wait.
          for (const { sub } of [...take, ...lane.queue.splice(0)]) this.running.delete(sub.id);
          throw err;
        }
        const got = new Map(claims.map((c) => [c.subscriptionId, c]));
        for (const { sub, slot } of take) {
          const claim = got.get(sub.id);
          if (claim) this.launch(sub, claim);
          else {
            this.elsewhere.set(sub.id, slot);
            this.running.delete(sub.id);
          }
        }
      }
    } finally {
      lane.claiming = false;
    }
  }

  private async claimEach(wanted: SlotRequest[]): Promise<Claim[]> {
    const out: Claim[] = [];
    for (const w of wanted) {
      const c = await this.opts.store.claim(w.id, w.slot, w.key);
      if (c) out.push(c);
    }
    return out;
  }

  /** Queues the send of a claim in the platform's lane. */
  private launch(sub: Subscription, claim: Claim): void {
    this.running.add(sub.id);
    const lane = this.lane(sub.platform);
    lane.open++;
    const p = lane.limit(() => this.deliver(sub, claim, lane)).catch((err: unknown) => this.storageFailed(err, `sending a digest of ${sub.id}`)).finally(() => {
      this.running.delete(sub.id);
      this.pending.delete(p);
      lane.open--;
      this.track(this.planNext(sub.id));
      if (lane.queue.length > 0) this.track(this.claimBatches(lane));
    });
    this.pending.add(p);
  }

  private async deliver(sub: Subscription, claim: Claim, lane: Lane): Promise<void> {
    if (this.stopped) return; // queued behind the concurrency limit when shutdown began: stays claimed
    const poster = this.opts.posters.get(sub.platform);
    const log = this.log.child({ subscription: sub.id, platform: sub.platform, channel: sub.channelId, slot: new Date(claim.slot).toISOString() });
    if (!poster) {
      log.warn('no adapter for this platform is running; the slot stays claimed until one is');
      return;
    }
    const { reply, hashes } = digestContent(this.opts.knowledge.current.knowledge, sub, claim.position);
    const r = this.opts.retry ?? { retries: 5, minTimeoutMs: 1000, maxTimeoutMs: 60_000 };
    let result: 'posted' | 'found' | 'given-up';
    try {
      result = await pRetry((n) => this.attempt(poster, sub, claim, reply, lane, n), {
        retries: r.retries,
        minTimeout: r.minTimeoutMs,
        maxTimeout: r.maxTimeoutMs,
        signal: this.abort.signal,
        shouldRetry: ({ error }) => !(error instanceof DeliveryError && error.permanent),
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          if (retriesLeft <= 0 || (error instanceof DeliveryError && error.permanent)) return;
          log.warn({ err: error, attempt: attemptNumber }, 'digest send failed; retrying');
          // The platform's own wait comes on top of the backoff.
          if (error instanceof DeliveryError && error.kind === 'retry-after' && error.retryAfterMs) await this.pause(Math.min(error.retryAfterMs, r.maxTimeoutMs));
        },
      });
    } catch (err) {
      if (this.stopped) {
        log.info('shutdown during a digest send; the slot stays claimed and is re-sent with the same key at start-up');
        return;
      }
      if (err instanceof DeliveryError && err.permanent) {
        await this.record(sub.id, log, () => this.opts.store.disable(sub.id, err.message));
        await this.record(sub.id, log, () => this.opts.store.finish(claim, 'failed', sub.lastHashes), { claim, state: 'failed', hashes: sub.lastHashes });
        log.warn({ err }, 'channel is gone or forbids the bot; digest disabled');
        this.opts.onDelivery?.('disabled');
        return;
      }
      await this.record(sub.id, log, () => this.opts.store.finish(claim, 'failed', sub.lastHashes), { claim, state: 'failed', hashes: sub.lastHashes });
      log.error({ err }, 'digest send failed after retries; slot dropped');
      this.opts.onDelivery?.('failed');
      return;
    }
    if (result === 'given-up') {
      await this.record(sub.id, log, () => this.opts.store.finish(claim, 'failed', sub.lastHashes), { claim, state: 'failed', hashes: sub.lastHashes });
      log.warn("an earlier send of this slot is past the platform's de-duplication window and the channel's recent messages cannot show whether it arrived; slot given up rather than risk posting it twice");
      this.opts.onDelivery?.('given-up');
      return;
    }
    await this.record(sub.id, log, () => this.opts.store.finish(claim, 'delivered', hashes), { claim, state: 'delivered', hashes });
    log.info(result === 'found' ? 'digest was already posted (found in the channel); recorded' : 'digest delivered');
    this.opts.onDelivery?.(result === 'found' ? 'found' : 'delivered');
  }

  /**
   * One attempt. A slot that may have been posted already (a retry, or a claim from before a crash) is
   * looked for in the channel first. It is sent with its key, which the platform de-duplicates only within
   * its window (counted from the claim, before any send of it): past that window, a slot whose post can be
   * neither found nor ruled out is given up rather than risk showing twice.
   */
  private async attempt(poster: Poster, sub: Subscription, claim: Claim, reply: Reply, lane: Lane, attemptNumber: number): Promise<'posted' | 'found' | 'given-up'> {
    if (claim.resumed || attemptNumber > 1) {
      const since = claim.claimedAt ?? this.now();
      const findPost = poster.findPost?.bind(poster);
      const found = findPost ? await lane.paced(() => findPost(sub.channelId, claim.key, since)) : 'unknown';
      if (found === 'found') return 'found';
      if (found === 'unknown' && this.now() - since > (poster.dedupWindowMs ?? Number.POSITIVE_INFINITY)) return 'given-up';
    }
    await lane.paced(() => poster.post(sub.channelId, reply, claim.key));
    return 'posted';
  }

  /** Runs a store write; on a storage error keeps the outcome to write later and reports the error. */
  private async record(id: string, log: Logger, write: () => Awaitable<void>, pending?: Unrecorded): Promise<void> {
    try {
      await write();
    } catch (err) {
      if (pending) this.unrecorded.set(id, pending);
      log.error({ err }, 'digest outcome could not be stored; kept in memory and written when storage works again');
      this.storageFailed(err, 'recording a digest outcome');
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.abort.signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** A stored subscription whose schedule no longer parses (already disabled). */
class BadSubscription extends Error {}
