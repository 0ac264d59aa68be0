import type { Claim, DigestMode, Subscription } from '../digest/store.js';

/** The columns of a subscriptions row (the same in both databases), in the order of {@link subscriptionValues}. */
export const SUBSCRIPTION_COLUMNS = [
  'id',
  'platform',
  'channel_id',
  'topics',
  'all_topics',
  'schedule',
  'timezone',
  'mode',
  'created_by',
  'created_at',
  'position',
  'last_slot',
  'last_hashes',
  'enabled',
  'disabled_reason',
] as const;

/** A subscriptions row as either database returns it: SQLite keeps booleans as 0 and 1, PostgreSQL as booleans. */
export interface SubscriptionRow {
  id: string;
  platform: string;
  channel_id: string;
  /** JSON array of topic ids. */
  topics: string;
  all_topics: boolean | number;
  schedule: string;
  timezone: string;
  mode: DigestMode;
  created_by: string;
  created_at: number;
  position: number;
  last_slot: number | null;
  /** JSON object: topic id → content hash. */
  last_hashes: string;
  enabled: boolean | number;
  disabled_reason: string | null;
}

/** A stored boolean, either database's way. */
const flag = (v: boolean | number): boolean => v === true || v === 1;

/** The subscription a row holds; throws when the row cannot be read (an unknown mode, JSON that does not parse). */
export function subscriptionFromRow(r: SubscriptionRow): Subscription {
  if (r.mode !== 'rotate' && r.mode !== 'board') throw new Error(`unknown mode "${String(r.mode)}"`);
  return {
    id: r.id,
    platform: r.platform,
    channelId: r.channel_id,
    topics: JSON.parse(r.topics) as string[],
    allTopics: flag(r.all_topics),
    schedule: r.schedule,
    timezone: r.timezone,
    mode: r.mode,
    createdBy: r.created_by,
    createdAt: r.created_at,
    position: r.position,
    lastSlot: r.last_slot,
    lastHashes: JSON.parse(r.last_hashes) as Record<string, string>,
    enabled: flag(r.enabled),
    disabledReason: r.disabled_reason,
  };
}

/** A subscription's row values in {@link SUBSCRIPTION_COLUMNS} order, with booleans as `storeFlag` writes them. */
export function subscriptionValues<F>(s: Subscription, storeFlag: (b: boolean) => F): unknown[] {
  return [
    s.id,
    s.platform,
    s.channelId,
    JSON.stringify(s.topics),
    storeFlag(s.allTopics),
    s.schedule,
    s.timezone,
    s.mode,
    s.createdBy,
    s.createdAt,
    s.position,
    s.lastSlot,
    JSON.stringify(s.lastHashes),
    storeFlag(s.enabled),
    s.disabledReason,
  ];
}

/** A stored row that cannot be read, to be disabled with `reason`. */
export interface UnreadableRow {
  id: string;
  reason: string;
}

/** The subscriptions the rows hold, and the rows that cannot be read (each store disables those and reports them). */
export function subscriptionsFromRows(rows: readonly SubscriptionRow[]): { subscriptions: Subscription[]; unreadable: UnreadableRow[] } {
  const subscriptions: Subscription[] = [];
  const unreadable: UnreadableRow[] = [];
  for (const r of rows) {
    try {
      subscriptions.push(subscriptionFromRow(r));
    } catch (err) {
      unreadable.push({ id: r.id, reason: `stored subscription cannot be read: ${(err as Error).message}` });
    }
  }
  return { subscriptions, unreadable };
}

/** The stored part of an open claim. */
export interface ClaimRow {
  subscription_id: string;
  slot: number;
  key: string;
  position: number;
  claimed_at: number;
}

/** A claim just taken by this process. */
export function newClaim(subscriptionId: string, slot: number, key: string, position: number, claimedAt: number): Claim {
  return { subscriptionId, slot, key, position, state: 'claimed', claimedAt };
}

/** An open claim found in the store (left by a crash, or taken over from another holder): it may have been posted already. */
export function resumedClaim(r: ClaimRow): Claim {
  return { ...newClaim(r.subscription_id, r.slot, r.key, r.position, r.claimed_at), resumed: true };
}
