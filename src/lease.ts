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

/** The parts of a replica id (`newReplicaId`: host, pid, random part). */
function holderParts(id: string): { host: string; pid: number } | undefined {
  const m = /^(.*)-(\d+)-[0-9a-f]+$/.exec(id);
  return m ? { host: m[1]!, pid: Number(m[2]) } : undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * SQLite mode: one bot process per DATA_DIR. The process holds the `instance` lease in the SQLite file while
 * it runs its chat adapters and digests; a second process started on the same DATA_DIR (two containers on one
 * volume) waits as a standby until the lease is free (released at shutdown, or expired after a crash). A lease
 * whose holder was a process on this host that no longer exists (a restart after SIGKILL) is taken at once.
 */
export class DataDirLock {
  static readonly NAME = 'instance';
  private timer?: NodeJS.Timeout;
  private renewedAt = 0;
  private released = false;

  constructor(
    private readonly store: DigestStore,
    readonly holder: string,
    private readonly ttlMs: number,
    private readonly log: Logger,
    private readonly host = holderParts(holder)?.host,
  ) {}

  get everyMs(): number {
    return Math.max(250, Math.floor(this.ttlMs / 4));
  }

  /** Takes the lease if it is free (or its holder is gone from this host); true when this process holds it. */
  async tryTake(): Promise<boolean> {
    const current = await this.store.leaseHolder?.(DataDirLock.NAME);
    const parts = current ? holderParts(current) : undefined;
    if (current && current !== this.holder && parts && parts.host === this.host && (parts.pid === process.pid || !processAlive(parts.pid))) {
      this.log.warn({ previous: current }, 'DATA_DIR lease was held by a process on this host that is gone; taking it');
      await this.store.releaseLease(DataDirLock.NAME, current);
    }
    const ok = await this.store.acquireLease(DataDirLock.NAME, this.holder, this.ttlMs);
    if (ok) this.renewedAt = Date.now();
    return ok;
  }

  /** Who holds DATA_DIR now when it is not this process (for /readyz), else undefined. */
  async otherHolder(): Promise<string | undefined> {
    const h = await this.store.leaseHolder?.(DataDirLock.NAME);
    return h && h !== this.holder ? h : undefined;
  }

  /** Polls until the lease is taken (true) or `stopped()` (false). */
  async waitFor(stopped: () => boolean): Promise<boolean> {
    let said = false;
    while (!stopped()) {
      if (await this.tryTake()) return true;
      if (!said) {
        said = true;
        this.log.warn(
          { holder: await this.otherHolder() },
          'another bot process holds this DATA_DIR; waiting as a standby until it stops (one process per DATA_DIR in SQLite mode)',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, this.everyMs));
    }
    return false;
  }

  /** Renews in the background; `onLost` is called once if the lease is lost (another process took it) or cannot be renewed for half its length. */
  keep(onLost: (reason: string) => void): void {
    let busy = false;
    this.timer = setInterval(async () => {
      if (this.released || busy) return;
      busy = true;
      try {
        if (await this.store.acquireLease(DataDirLock.NAME, this.holder, this.ttlMs)) {
          this.renewedAt = Date.now();
          return;
        }
      } catch (err) {
        this.log.warn({ err }, 'DATA_DIR lease renewal failed');
        if (Date.now() - this.renewedAt <= this.ttlMs / 2) return;
      } finally {
        busy = false;
      }
      if (this.released) return;
      clearInterval(this.timer);
      onLost('this process could not renew its DATA_DIR lease in time; another bot process may hold it now');
    }, this.everyMs);
    this.timer.unref?.();
  }

  /** Frees the lease at shutdown, so a waiting process starts at once. */
  async release(): Promise<void> {
    this.released = true;
    clearInterval(this.timer);
    await Promise.resolve(this.store.releaseLease(DataDirLock.NAME, this.holder)).catch(() => undefined);
  }
}
