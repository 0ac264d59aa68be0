import { createLane, type Lane } from './lanes.js';
import { DEFAULT_PACE, type SchedulerRun } from './scheduler-options.js';
import type { DigestSender } from './send.js';
import type { Claim, SlotRequest, Subscription } from './store.js';

/** The idempotency key of a (subscription, slot): at most 25 characters (Discord's nonce limit). */
export function slotKey(subscriptionId: string, slot: number): string {
  return `${subscriptionId}-${slot.toString(36)}`.slice(0, 25);
}

/**
 * Delivery of due slots: each is claimed in the store (with a shared store, in batches per platform lane, so
 * replicas split a fan-out by how fast each sends) and queued in its platform's lane, where {@link DigestSender}
 * sends it within the platform's pace.
 */
export class DigestDelivery {
  private readonly lanes = new Map<string, Lane>();
  /** Shared store: the slot each subscription had claimed by another replica (not tried again). */
  private readonly elsewhere = new Map<string, number>();

  /** `afterSend` runs when a claim's send is over (whatever its outcome), to plan that subscription's next slot. */
  constructor(
    private readonly run: SchedulerRun,
    private readonly sender: DigestSender,
    private readonly afterSend: (subscriptionId: string) => Promise<void>,
  ) {}

  /** Claims a due slot and launches its send; with a shared store it waits in its lane to be claimed in a batch. */
  async claim(sub: Subscription, slot: number): Promise<void> {
    // Shared store: claimed in batches as the lane has room, so replicas split a fan-out by how fast each sends.
    if (this.run.opts.store.shared) return this.enqueue(sub, slot);
    const claim = await this.run.opts.store.claim(sub.id, slot, slotKey(sub.id, slot));
    if (claim) this.launch(sub, claim);
  }

  /** Forgets what is known of subscriptions no longer enabled. */
  forgetAllBut(seen: ReadonlySet<string>): void {
    for (const id of this.elsewhere.keys()) if (!seen.has(id)) this.elsewhere.delete(id);
  }

  /** Queues the send of a claim in the platform's lane. */
  launch(sub: Subscription, claim: Claim): void {
    this.run.running.add(sub.id);
    const lane = this.lane(sub.platform);
    lane.open++;
    const sent = lane
      .limit(() => this.sender.deliver(sub, claim, lane))
      .catch((err: unknown) => this.run.storageFailed(err, `sending a digest of ${sub.id}`))
      .finally(() => {
        this.run.running.delete(sub.id);
        lane.open--;
        this.run.track(this.afterSend(sub.id));
        if (lane.queue.length > 0) this.run.track(this.claimBatches(lane));
      });
    this.run.track(sent);
  }

  private lane(platform: string): Lane {
    let lane = this.lanes.get(platform);
    if (!lane) {
      lane = createLane(this.run.opts.pace?.[platform] ?? DEFAULT_PACE, this.run.signal, this.run.opts.paceShare);
      this.lanes.set(platform, lane);
    }
    return lane;
  }

  /** Shared store: a due slot waits in its lane until the lane claims the next batch. */
  private enqueue(sub: Subscription, slot: number): void {
    if (this.elsewhere.get(sub.id) === slot) return; // another replica has it (a dead one's is taken over by `unfinished`)
    this.run.running.add(sub.id);
    const lane = this.lane(sub.platform);
    lane.queue.push({ sub, slot });
    this.run.track(this.claimBatches(lane));
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
      while (!this.run.stopped && lane.queue.length > 0 && lane.open <= lane.batch() / 2) {
        const take = lane.queue.splice(0, lane.batch() - lane.open);
        let claims: Claim[];
        try {
          const wanted = take.map(({ sub, slot }) => ({ id: sub.id, slot, key: slotKey(sub.id, slot) }));
          claims = this.run.opts.store.claimMany ? await this.run.opts.store.claimMany(wanted) : await this.claimEach(wanted);
        } catch (err) {
          // Nothing was claimed: the whole queue goes back to planning, which tries again after the storage retry wait.
          for (const { sub } of [...take, ...lane.queue.splice(0)]) this.run.running.delete(sub.id);
          throw err;
        }
        const got = new Map(claims.map((c) => [c.subscriptionId, c]));
        for (const { sub, slot } of take) {
          const claim = got.get(sub.id);
          if (claim) this.launch(sub, claim);
          else {
            this.elsewhere.set(sub.id, slot);
            this.run.running.delete(sub.id);
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
      const c = await this.run.opts.store.claim(w.id, w.slot, w.key);
      if (c) out.push(c);
    }
    return out;
  }
}
