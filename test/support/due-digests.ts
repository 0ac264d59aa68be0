/**
 * Many digest subscriptions due at one slot, written straight into a digest database (for the crash test
 * and the fan-out benchmark). They alternate between Discord and Matrix, so both platforms are in the
 * fan-out at the same time, and are spread round-robin over the given channels and rooms.
 */
import type { Subscription } from '../../src/digest/store.js';
import { SqliteDigestStore } from '../../src/store/sqlite-store.js';
import { PgDigestStore } from '../../src/store/pg-store.js';

/** A cron expression (6 fields, with seconds) that fires once a year, at `at` (UTC). */
export function onceAt(at: Date): string {
  return `${at.getUTCSeconds()} ${at.getUTCMinutes()} ${at.getUTCHours()} ${at.getUTCDate()} ${at.getUTCMonth() + 1} *`;
}

export interface DueDigests {
  file: string;
  count: number;
  /** The slot (ms since epoch, a whole second). */
  slot: number;
  idPrefix: string;
  discordChannels: string[];
  matrixRooms: string[];
}

/** `count` subscriptions due at `slot` (created just before now). */
export function dueSubscriptions(o: Omit<DueDigests, 'file'>): Subscription[] {
  const now = Date.now();
  const subs: Subscription[] = [];
  for (let i = 0; i < o.count; i++) {
    const onDiscord = i % 2 === 0;
    const n = Math.floor(i / 2);
    subs.push({
      id: `${o.idPrefix}${String(i).padStart(5, '0')}`,
      platform: onDiscord ? 'discord' : 'matrix',
      channelId: onDiscord ? o.discordChannels[n % o.discordChannels.length]! : o.matrixRooms[n % o.matrixRooms.length]!,
      topics: [],
      allTopics: true,
      schedule: onceAt(new Date(o.slot)),
      timezone: 'UTC',
      mode: i % 4 < 2 ? 'rotate' : 'board',
      createdBy: 'seed',
      createdAt: now - o.count + i,
      position: 0,
      lastSlot: null,
      lastHashes: {},
      enabled: true,
      disabledReason: null,
    });
  }
  return subs;
}

/** Adds `count` subscriptions due at `slot` to a SQLite file and returns them. */
export function seedDueDigests(o: DueDigests): Subscription[] {
  const store = new SqliteDigestStore(o.file);
  const subs = dueSubscriptions(o);
  try {
    for (const sub of subs) store.add(sub);
  } finally {
    store.close();
  }
  return subs;
}

/** Adds them to a PostgreSQL database (several replicas) over the store's connection pool. */
export async function seedDueDigestsPg(url: string, o: Omit<DueDigests, 'file'>): Promise<Subscription[]> {
  const store = await PgDigestStore.open({ url, holder: 'seed', claimLeaseMs: 1000 });
  const subs = dueSubscriptions(o);
  try {
    await Promise.all(subs.map((s) => store.add(s)));
  } finally {
    await store.close();
  }
  return subs;
}
