import type { Logger } from 'pino';
import type { DigestStore } from './digest/store.js';

/** A role held by one replica at a time: what to do when this replica takes it and when it gives it up. */
export interface Role {
  name: string;
  take(): Promise<void>;
  giveUp(): Promise<void>;
}

export interface RoleEvents {
  renewed?: (role: string) => void;
  takenOver?: (role: string) => void;
}

/**
 * Roles by lease in the shared store. Every `ttlMs / 4` the replica renews its heartbeat lease
 * (`replica:<id>`, counted for the digest pace share) and each role lease it holds, and tries to take the
 * roles nobody holds. A holder that cannot renew (database unreachable) gives the role up before its lease
 * can expire, so two replicas never hold one role. A dead holder's role is taken within the lease plus one
 * renewal period, plus the role's own start (gateway connect, first sync).
 */
export class Roles {
  private readonly held = new Set<string>();
  private readonly starting = new Set<string>();
  private readonly renewedAt = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private stopped = false;
  private live = 1;

  constructor(
    private readonly store: DigestStore,
    readonly replicaId: string,
    private readonly ttlMs: number,
    private readonly roles: Role[],
    private readonly log: Logger,
    private readonly events: RoleEvents = {},
  ) {}

  /** Renewal period. */
  get everyMs(): number {
    return Math.max(250, Math.floor(this.ttlMs / 4));
  }

  /** Roles this replica holds now (a role counts once it is started). */
  names(): string[] {
    return this.roles.map((r) => r.name).filter((n) => this.held.has(n) && !this.starting.has(n));
  }

  /** Live replicas at the last renewal (at least 1: this one). */
  liveReplicas(): number {
    return this.live;
  }

  /** First round (waits for it), then renews in the background. */
  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => {
      if (!this.ticking) this.ticking = this.tick().finally(() => (this.ticking = undefined));
    }, this.everyMs);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.store.acquireLease(`replica:${this.replicaId}`, this.replicaId, this.ttlMs);
      this.live = Math.max(1, await this.store.countLeases('replica:'));
    } catch (err) {
      this.log.warn({ err }, 'replica heartbeat failed');
    }
    for (const role of this.roles) await this.tickRole(role);
  }

  private async tickRole(role: Role): Promise<void> {
    // Starved past our own lease (event loop blocked, machine overloaded): another replica may hold it now.
    if (this.held.has(role.name) && Date.now() - (this.renewedAt.get(role.name) ?? 0) > this.ttlMs) await this.release(role, 'lease expired before renewal');
    const had = this.held.has(role.name);
    let has: boolean;
    try {
      has = await this.store.acquireLease(role.name, this.replicaId, this.ttlMs);
    } catch (err) {
      this.log.warn({ err, role: role.name }, 'role lease renewal failed');
      // Give up before the lease can expire elsewhere: half the lease without a renewal.
      if (had && Date.now() - (this.renewedAt.get(role.name) ?? 0) > this.ttlMs / 2) await this.release(role, 'lease renewal failing');
      return;
    }
    if (this.stopped) return;
    if (has) {
      this.renewedAt.set(role.name, Date.now());
      if (had) {
        this.events.renewed?.(role.name);
        return;
      }
      this.held.add(role.name);
      this.starting.add(role.name);
      this.log.info({ role: role.name, replica: this.replicaId }, 'role taken');
      this.events.takenOver?.(role.name);
      // The role starts in the background: renewals go on meanwhile (a gateway connect may take seconds).
      void role
        .take()
        .then(() => this.starting.delete(role.name))
        .catch(async (err: unknown) => {
          this.log.error({ err, role: role.name }, 'role failed to start; giving it up');
          this.starting.delete(role.name);
          await this.release(role, 'start failed');
        });
    } else if (had) {
      await this.release(role, 'lease lost');
    }
  }

  private async release(role: Role, reason: string): Promise<void> {
    this.held.delete(role.name);
    this.log.warn({ role: role.name, reason }, 'role given up');
    await role.giveUp().catch((err: unknown) => this.log.error({ err, role: role.name }, 'stopping a role failed'));
    await Promise.resolve(this.store.releaseLease(role.name, this.replicaId)).catch(() => undefined);
  }

  /** Stops renewing, gives every role up and frees the leases, so another replica takes them at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.ticking;
    for (const role of this.roles) if (this.held.has(role.name)) await this.release(role, 'shutdown');
    await Promise.resolve(this.store.releaseLease(`replica:${this.replicaId}`, this.replicaId)).catch(() => undefined);
  }
}
