import { SimpleFsStorageProvider } from 'matrix-bot-sdk';

/** While running, the sync position is written at most this often (and at stop). */
export const SYNC_FLUSH_MS = 1000;

/**
 * Sync state in DATA_DIR/matrix-sync.json (matrix-bot-sdk's lowdb file, which is rewritten whole on every
 * write). The SDK reports a new position after every /sync; writing each costs a whole-file write per sync, so
 * positions are kept in memory and the latest is written at most every `flushMs` and at stop.
 *
 * Never past an unhandled event: a position is reported after its batch was handed to the listeners (the
 * client sets `persistTokenAfterSync`), and is written only after the listeners in flight have finished
 * (`beforeSave`). A crash therefore leaves an older position: the next start gets those events again, answers
 * the ones within the grace period again, and the homeserver drops the repeated replies (their transaction ids
 * derive from the event ids). Once the adapter stops (`frozen`), positions are no longer recorded: the SDK
 * cannot abort its long poll, and a /sync answered after stop() must not move the position past events nobody
 * handled.
 */
export class SyncStorage extends SimpleFsStorageProvider {
  frozen = false;
  /** The latest position not yet on disk. */
  private pending: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    file: string,
    private readonly beforeSave: () => Promise<void>,
    /** A failed write (disk full…): the position stays pending and is written by the next flush. */
    private readonly onWriteError: (err: unknown) => void,
    private readonly flushMs = SYNC_FLUSH_MS,
  ) {
    super(file);
  }

  override setSyncToken(token: string | null): void {
    if (this.frozen) return;
    if (token === null) {
      // A new filter: the old position is void, at once.
      this.pending = undefined;
      super.setSyncToken(null);
      return;
    }
    this.pending = token;
    this.timer ??= setTimeout(() => void this.flush(), this.flushMs).unref();
  }

  override getSyncToken(): string | null {
    return this.pending ?? super.getSyncToken();
  }

  /** Writes the latest position once the listeners in flight have finished; writes happen in order. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const token = this.pending;
    if (token === undefined) return this.writes;
    this.writes = this.writes.then(() => this.write(token));
    return this.writes;
  }

  private async write(token: string): Promise<void> {
    try {
      await this.beforeSave();
      super.setSyncToken(token);
      if (this.pending === token) this.pending = undefined;
    } catch (err) {
      this.onWriteError(err);
    }
  }
}
