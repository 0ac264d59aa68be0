import type { DigestDelivery } from './delivery.js';
import type { SlotPlanner } from './planning.js';
import type { SchedulerRun } from './scheduler-options.js';
import type { Subscription } from './store.js';

/**
 * Slots left behind by a restart, an outage or a dead replica. An unfinished claim is re-sent with its key
 * (the platform de-duplicates it) unless it is older than the catch-up grace; a slot missed while the bot was
 * down is posted once if younger than the grace, else recorded as skipped. With a shared store, this replica's
 * claims are renewed and expired ones (a dead replica's) taken over.
 */
export class SlotRecovery {
  constructor(
    private readonly run: SchedulerRun,
    private readonly planner: SlotPlanner,
    private readonly delivery: DigestDelivery,
  ) {}

  /** A missed slot older than the catch-up grace is recorded as skipped (true); a younger one is left to be posted (false). */
  async skipMissed(sub: Subscription, slot: number): Promise<boolean> {
    if (!this.tooOld(slot)) return false;
    this.run.log.info({ subscription: sub.id, slot: new Date(slot).toISOString() }, 'missed digest slot is older than the catch-up grace; skipped');
    await this.run.opts.store.skip(sub.id, slot);
    this.run.opts.onDelivery?.('skipped');
    return true;
  }

  /** Launches the unfinished claims this process should send (after a crash, or taken over from a dead replica). */
  async resume(): Promise<void> {
    try {
      await this.resumeClaims();
    } catch (err) {
      this.run.storageFailed(err, 'reading unfinished claims');
    }
  }

  /** Shared store: extends this replica's claims, then takes over expired ones. */
  async renewAndTakeOver(): Promise<void> {
    if (this.run.stopped) return;
    await this.run.opts.store.renewClaims();
    await this.resume();
  }

  private async resumeClaims(): Promise<void> {
    const { store } = this.run.opts;
    for (const claim of await store.unfinished()) {
      if (this.run.stopped) return;
      if (this.tooOld(claim.slot)) {
        this.run.log.warn(
          { subscription: claim.subscriptionId, slot: new Date(claim.slot).toISOString() },
          'unfinished digest claim is too old to re-send; dropped',
        );
        await store.finish(claim, 'failed', (await store.get(claim.subscriptionId))?.lastHashes ?? {});
        continue;
      }
      const sub = this.planner.readable(await store.get(claim.subscriptionId));
      // Launched even when the subscription waits in a lane to be claimed: that claim would now fail, this one is ours.
      if (sub) {
        if (store.shared)
          this.run.log.info({ subscription: sub.id, slot: new Date(claim.slot).toISOString() }, 'digest claim taken over; re-sending with its key');
        this.delivery.launch(sub, claim);
      }
    }
  }

  private tooOld(slot: number): boolean {
    return this.run.now() - slot > this.run.opts.catchUpGraceMs;
  }
}
