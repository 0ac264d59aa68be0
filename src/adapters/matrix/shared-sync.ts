import type { IFilterInfo, IStorageProvider } from 'matrix-bot-sdk';

/** Where shared Matrix state lives (the store's `getState`/`setState`). */
export interface SharedState {
  getState(key: string): Promise<string | undefined> | string | undefined;
  setState(key: string, value: string | null): Promise<void> | void;
}

/**
 * Matrix sync state in the shared store, so the replica that takes the Matrix role over resumes where the
 * last holder stopped. A batch's token is saved only after the batch was handled (`persistTokenAfterSync`
 * and `beforeSave`, which waits for replies in flight): a holder that dies mid-batch leaves the previous
 * token, the next holder handles the batch again, and its replies, sent with transaction ids derived from
 * the event ids on the same access token, are dropped by the homeserver as repeats.
 */
export class SharedSyncStorage implements IStorageProvider {
  frozen = false;

  constructor(
    private readonly state: SharedState,
    private readonly beforeSave: () => Promise<void>,
  ) {}

  async getSyncToken(): Promise<string | null> {
    return (await this.state.getState('matrix.sync_token')) ?? null;
  }

  async setSyncToken(token: string | null): Promise<void> {
    if (this.frozen) return;
    await this.beforeSave();
    if (!this.frozen) await this.state.setState('matrix.sync_token', token);
  }

  /** Positions are saved as they come (see setSyncToken): nothing waits. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  async getFilter(): Promise<IFilterInfo> {
    const raw = await this.state.getState('matrix.filter');
    return (raw ? JSON.parse(raw) : undefined) as IFilterInfo;
  }

  async setFilter(filter: IFilterInfo): Promise<void> {
    await this.state.setState('matrix.filter', JSON.stringify(filter));
  }

  async readValue(key: string): Promise<string | undefined> {
    return this.state.getState(`matrix.kv.${key}`);
  }

  async storeValue(key: string, value: string): Promise<void> {
    await this.state.setState(`matrix.kv.${key}`, value);
  }
}
