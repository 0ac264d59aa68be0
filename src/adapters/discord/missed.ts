import type { Client, Message } from 'discord.js';
import type { Logger } from 'pino';
import type { DigestStore } from '../../digest/store.js';

/** Where the gateway holder keeps the last message id it saw per channel (shared state). */
const SEEN_KEY = 'discord:seen';
/** Discord's epoch (snowflakes count ms from it). */
const DISCORD_EPOCH = 1_420_070_400_000n;

/** The smallest snowflake of a moment (ms since epoch): `after` it means "sent at or after that moment". */
export function snowflakeAt(ms: number): string {
  return ((BigInt(Math.max(0, Math.floor(ms))) - DISCORD_EPOCH) << 22n).toString();
}

/** Without a shared store, at most this many answered message ids are remembered (a flood ages the oldest out). */
const MAX_CLAIMED = 20_000;

const later = (a: string, b: string) => (BigInt(a) > BigInt(b) ? a : b);

export interface MissedMentionsOptions {
  /**
   * Where the seen channels are kept (state) and, in a shared store, handled message ids. One process on its SQLite
   * file: the seen channels outlive a restart, and the handled ids are kept in memory (no other process answers).
   */
  store?: DigestStore;
  log: Logger;
  /** Messages older than this are not answered after a takeover (default 5 minutes). */
  graceMs?: number;
  /** At most this many channels are remembered and read back (the most recently active; default 200). */
  maxChannels?: number;
  /** How often the seen channels are written to the store (default 2 s). */
  flushEveryMs?: number;
  now?: () => number;
}

/**
 * Mentions and DMs sent while no session held the Discord gateway: Discord does not replay them to a new
 * session (after an invalidated session, a restart, or a failover to another replica). The holder remembers,
 * per channel, the last message id it saw (written to the store every few seconds); when a session starts
 * anew, the channels are read back and what came after is fetched over REST, and the adapter handles those
 * messages like live ones. Every message is claimed before it is answered (in a shared store
 * `handled_messages`, with expiry; otherwise in memory), so none is answered twice.
 */
export class MissedMentions {
  private readonly seenIds = new Map<string, string>();
  private dirty = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private readonly graceMs: number;
  private readonly now: () => number;
  /** Without a shared store: the message ids claimed, with their expiry (in claim order). */
  private readonly claimed = new Map<string, number>();
  /** Catch-ups run one after another: a second new session while one reads waits for it. */
  private reading: Promise<number> = Promise.resolve(0);

  constructor(private readonly o: MissedMentionsOptions) {
    this.graceMs = o.graceMs ?? 5 * 60_000;
    this.now = o.now ?? Date.now;
  }

  /** A message arrived on the gateway: its channel's last seen id moves on (written to the store shortly). */
  seen(channelId: string, messageId: string): void {
    const prev = this.seenIds.get(channelId);
    this.seenIds.delete(channelId); // re-inserted last: the map is ordered by activity
    this.seenIds.set(channelId, prev ? later(prev, messageId) : messageId);
    const max = this.o.maxChannels ?? 200;
    if (this.seenIds.size > max) this.seenIds.delete(this.seenIds.keys().next().value!);
    this.dirty = true;
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.o.flushEveryMs ?? 2000);
      this.timer.unref?.();
    }
  }

  /** Writes the seen channels (merged with what is stored, newest ids winning). */
  async flush(): Promise<void> {
    this.timer = undefined;
    if (!this.dirty || !this.o.store) return;
    this.dirty = false;
    try {
      const stored = await this.stored();
      // Channels only earlier holders saw count as less recently active than ours.
      const merged = new Map(Object.entries(stored).filter(([c]) => !this.seenIds.has(c)));
      for (const [c, id] of this.seenIds) merged.set(c, stored[c] ? later(stored[c], id) : id);
      await this.o.store.setState(SEEN_KEY, JSON.stringify(Object.fromEntries([...merged].slice(-(this.o.maxChannels ?? 200)))));
    } catch (err) {
      this.dirty = true;
      this.o.log.warn({ err }, 'could not record the channels seen on the gateway');
    }
  }

  /** True for the first replica to claim `messageId` (it answers); false when another already did. */
  async claim(messageId: string): Promise<boolean> {
    if (!this.o.store?.markHandled) return this.claimHere(messageId);
    try {
      return await this.o.store.markHandled(`discord:${messageId}`, this.graceMs * 2);
    } catch (err) {
      this.o.log.warn({ err, message: messageId }, 'could not record a message as handled; answering it anyway');
      return true;
    }
  }

  /** One process: the first claim of a message id within twice the grace period wins (bounded: MAX_CLAIMED ids). */
  private claimHere(messageId: string): boolean {
    const now = this.now();
    for (const [id, expires] of this.claimed) {
      if (expires > now && this.claimed.size < MAX_CLAIMED) break;
      this.claimed.delete(id);
    }
    if ((this.claimed.get(messageId) ?? 0) > now) return false;
    this.claimed.delete(messageId);
    this.claimed.set(messageId, now + this.graceMs * 2);
    return true;
  }

  /**
   * After a session starts (taking the gateway, or anew after an invalidated one): reads the channels seen (by this
   * process and earlier holders) and hands every message sent there after the last seen one (and within the grace
   * period) to `handle`, oldest first. Returns how many. Catch-ups run one at a time, in order.
   */
  catchUp(client: Client, handle: (m: Message) => Promise<void>): Promise<number> {
    this.stopped = false;
    // Read now, before messages on the new session move the seen ids past the gap.
    const channels = this.channelsToRead();
    this.reading = this.reading.catch(() => 0).then(async () => this.readBack(client, handle, await channels));
    return this.reading;
  }

  /** The last id seen per channel, by this process (now) and by earlier holders (in the store), newest winning. */
  private async channelsToRead(): Promise<Record<string, string>> {
    const mine = [...this.seenIds];
    let channels: Record<string, string> = {};
    try {
      channels = await this.stored();
    } catch (err) {
      this.o.log.warn({ err }, 'could not read the channels seen on the gateway; reading back those this process saw');
    }
    for (const [c, id] of mine) channels[c] = channels[c] ? later(channels[c], id) : id;
    return channels;
  }

  private async readBack(client: Client, handle: (m: Message) => Promise<void>, channels: Record<string, string>): Promise<number> {
    const floor = snowflakeAt(this.now() - this.graceMs);
    let n = 0;
    for (const [channelId, lastSeen] of Object.entries(channels)) {
      if (this.stopped) break;
      try {
        const channel = await client.channels.fetch(channelId);
        if (!channel?.isTextBased()) continue;
        // A guild channel's last message id came with the new session's GUILD_CREATE: nothing newer, nothing to read.
        // (A DM channel's is only what this process saw, so it is read anyway.)
        if (!channel.isDMBased() && channel.lastMessageId && BigInt(channel.lastMessageId) <= BigInt(lastSeen)) continue;
        const batch = await channel.messages.fetch({ after: later(lastSeen, floor), limit: 100, cache: false });
        const ordered = [...batch.values()].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
        for (const m of ordered) {
          this.seen(channelId, m.id);
          await handle(m);
          n++;
        }
      } catch (err) {
        this.o.log.warn({ err, channel: channelId }, 'could not read back the messages sent while no session held the gateway');
      }
    }
    if (n > 0) this.o.log.info({ messages: n, channels: Object.keys(channels).length }, 'read back messages sent while no session held the gateway');
    return n;
  }

  private async stored(): Promise<Record<string, string>> {
    const raw = await this.o.store?.getState(SEEN_KEY);
    if (!raw) return {};
    try {
      const v = JSON.parse(raw) as unknown;
      return v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).filter(([k, id]) => /^\d+$/.test(k) && typeof id === 'string' && /^\d+$/.test(id)))
        : {};
    } catch {
      return {};
    }
  }

  /** Ends a catch-up in progress and writes what was seen, so the next holder starts from there. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.flush();
  }
}
