/**
 * In-memory homeserver state for the fake Matrix server: rooms with their event DAG flattened into one
 * ordered timeline, current state, account data, profiles, and the `/sync` response builder
 * (Client-Server API v1.x, https://spec.matrix.org/v1.11/client-server-api/#get_matrixclientv3sync).
 *
 * Every change (event, account data) gets a new global stream position `pos`. A sync token encodes
 * "everything up to and including pos"; `/sync?since=T` returns what has a position after T.
 * Plain data and pure-ish functions: no I/O, no timers.
 */
import { randomBytes } from 'node:crypto';

/** A room event as stored by the fake (superset of what clients see). */
export interface StoredEvent {
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  content: any;
  origin_server_ts: number;
  /** Present on state events (may be ''). */
  state_key?: string;
  /** Present on m.room.redaction. */
  redacts?: string;
  /** Global stream position. */
  pos: number;
  /** Transaction id and access token the sender used (events sent through PUT /send). */
  txnId?: string;
  txnToken?: string;
  /** Set when the event got redacted. */
  redactedBecause?: StoredEvent;
}

/** Input for appending an event. */
export interface NewEvent {
  sender: string;
  type: string;
  content: any;
  ts?: number;
  stateKey?: string;
  redacts?: string;
  txnId?: string;
  txnToken?: string;
}

/** Account data entry with the stream position of its last change. */
interface AccountDataEntry {
  content: any;
  pos: number;
}

/** Membership values of the spec. */
export type Membership = 'join' | 'invite' | 'leave' | 'ban' | 'knock';

/** Random URL-safe id part. */
export function randomId(bytes = 12): string {
  return randomBytes(bytes).toString('base64url');
}

/** The last `n` items (none for n <= 0). */
const lastN = <T>(items: T[], n: number): T[] => (n <= 0 ? [] : items.slice(-n));

const stateKeyOf = (type: string, stateKey: string): string => `${type}\u0000${stateKey}`;

/** State types copied (stripped) into `invite_state` so the invitee can render the invite. */
const INVITE_STATE_TYPES = [
  'm.room.create',
  'm.room.join_rules',
  'm.room.name',
  'm.room.canonical_alias',
  'm.room.avatar',
  'm.room.encryption',
  'm.room.topic',
];

/** One room: an ordered timeline (state events included, as in a real timeline) plus current state. */
export class Room {
  readonly events: StoredEvent[] = [];
  readonly state = new Map<string, StoredEvent>();
  readonly accountData = new Map<string, AccountDataEntry>();

  constructor(readonly roomId: string) {}

  /** Current state event of a type/state key. */
  stateEvent(type: string, stateKey = ''): StoredEvent | undefined {
    return this.state.get(stateKeyOf(type, stateKey));
  }

  /** Current membership of a user (undefined if they never had one). */
  membership(userId: string): Membership | undefined {
    return this.stateEvent('m.room.member', userId)?.content?.membership;
  }

  /** The user's latest membership event at or before stream position `pos`. */
  memberEventAt(userId: string, pos: number): StoredEvent | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const ev = this.events[i]!;
      if (ev.pos <= pos && ev.type === 'm.room.member' && ev.state_key === userId) return ev;
    }
    return undefined;
  }

  /** Membership of a user at stream position `pos`. */
  membershipAt(userId: string, pos: number): Membership | undefined {
    return this.memberEventAt(userId, pos)?.content?.membership;
  }

  /** Full state after all events with position <= `pos`. */
  stateAt(pos: number): StoredEvent[] {
    const s = new Map<string, StoredEvent>();
    for (const ev of this.events) {
      if (ev.pos > pos) break;
      if (ev.state_key !== undefined) s.set(stateKeyOf(ev.type, ev.state_key), ev);
    }
    return [...s.values()];
  }

  /** User ids whose current membership equals `membership`. */
  members(membership: Membership = 'join'): string[] {
    const out: string[] = [];
    for (const ev of this.state.values()) {
      if (ev.type === 'm.room.member' && ev.content?.membership === membership) out.push(ev.state_key!);
    }
    return out;
  }

  /** Current m.room.power_levels content (spec defaults if absent). */
  powerLevels(): any {
    return this.stateEvent('m.room.power_levels')?.content ?? { users_default: 0, events_default: 0, state_default: 50 };
  }

  /** Power level of a user in this room. */
  userLevel(userId: string): number {
    const pl = this.powerLevels();
    return Number(pl.users?.[userId] ?? pl.users_default ?? 0);
  }

  /** Power level required to send an event of `type` (state or not). */
  requiredLevel(type: string, isState: boolean): number {
    const pl = this.powerLevels();
    const specific = pl.events?.[type];
    if (specific !== undefined) return Number(specific);
    return Number(isState ? (pl.state_default ?? 50) : (pl.events_default ?? 0));
  }
}

/** Options for building a sync response. */
export interface SyncOptions {
  userId: string;
  /** Stream position of the `since` token, or null for an initial sync. */
  since: number | null;
  timelineLimit: number;
  fullState: boolean;
  /** The requester's access token (adds unsigned.transaction_id to their own events). */
  token: string;
}

/** The fake's whole homeserver state. */
export class HomeserverModel {
  /** Last used stream position. */
  pos = 0;
  readonly rooms = new Map<string, Room>();
  readonly aliases = new Map<string, string>();
  readonly accountData = new Map<string, AccountDataEntry>();
  readonly profiles = new Map<string, { displayname?: string; avatar_url?: string }>();
  readonly eventsById = new Map<string, StoredEvent>();
  /** Instance epoch, so tokens of another fake instance are recognised as foreign. */
  readonly epoch = randomId(4).replace(/[^a-zA-Z0-9]/g, 'x');

  /** Called after every change (new event, account data). */
  onChange: () => void = () => {};

  constructor(readonly serverName: string) {}

  /** Create an empty room object (no events). */
  addRoom(roomId: string): Room {
    if (this.rooms.has(roomId)) throw new Error(`fake matrix: room ${roomId} already exists`);
    const room = new Room(roomId);
    this.rooms.set(roomId, room);
    return room;
  }

  /** Room by id or alias. */
  resolveRoom(idOrAlias: string): Room | undefined {
    const id = idOrAlias.startsWith('#') ? this.aliases.get(idOrAlias) : idOrAlias;
    return id ? this.rooms.get(id) : undefined;
  }

  /** Ensure a profile exists for a user (default display name: the localpart). */
  ensureProfile(userId: string): { displayname?: string; avatar_url?: string } {
    let p = this.profiles.get(userId);
    if (!p) {
      p = { displayname: userId.replace(/^@/, '').split(':')[0] };
      this.profiles.set(userId, p);
    }
    return p;
  }

  /** Append an event to a room, update state and stream position, and notify. */
  append(roomId: string, ev: NewEvent): StoredEvent {
    const room = this.rooms.get(roomId);
    if (!room) throw new Error(`fake matrix: unknown room ${roomId}`);
    const stored: StoredEvent = {
      event_id: `$${randomId(24)}`,
      room_id: roomId,
      sender: ev.sender,
      type: ev.type,
      content: ev.content ?? {},
      origin_server_ts: ev.ts ?? Date.now(),
      pos: ++this.pos,
    };
    if (ev.stateKey !== undefined) stored.state_key = ev.stateKey;
    if (ev.redacts !== undefined) stored.redacts = ev.redacts;
    if (ev.txnId !== undefined) stored.txnId = ev.txnId;
    if (ev.txnToken !== undefined) stored.txnToken = ev.txnToken;
    room.events.push(stored);
    this.eventsById.set(stored.event_id, stored);
    if (stored.state_key !== undefined) room.state.set(stateKeyOf(stored.type, stored.state_key), stored);
    if (stored.type === 'm.room.member') this.ensureProfile(stored.state_key!);
    if (stored.redacts) {
      const target = this.eventsById.get(stored.redacts);
      if (target && target.room_id === roomId) target.redactedBecause = stored;
    }
    this.onChange();
    return stored;
  }

  /** Set (global or room) account data of the bot and notify. */
  setAccountData(type: string, content: any, roomId?: string): void {
    const entry = { content, pos: ++this.pos };
    if (roomId) this.rooms.get(roomId)?.accountData.set(type, entry);
    else this.accountData.set(type, entry);
    this.onChange();
  }

  /** Client format of an event (ClientEvent; `room_id` only when `withRoomId`). */
  toClient(ev: StoredEvent, o: { withRoomId?: boolean; token?: string } = {}): any {
    const out: any = {
      type: ev.type,
      event_id: ev.event_id,
      sender: ev.sender,
      origin_server_ts: ev.origin_server_ts,
      content: ev.redactedBecause ? {} : ev.content,
      unsigned: { age: Math.max(0, Date.now() - ev.origin_server_ts) } as any,
    };
    if (o.withRoomId) out.room_id = ev.room_id;
    if (ev.state_key !== undefined) out.state_key = ev.state_key;
    if (ev.redacts !== undefined) out.redacts = ev.redacts;
    if (ev.txnId !== undefined && o.token !== undefined && ev.txnToken === o.token) out.unsigned.transaction_id = ev.txnId;
    if (ev.redactedBecause) out.unsigned.redacted_because = this.toClient(ev.redactedBecause);
    return out;
  }

  /** StrippedStateEvent (as used in invite_state). */
  private stripped(ev: StoredEvent): any {
    return { type: ev.type, state_key: ev.state_key, content: ev.content, sender: ev.sender };
  }

  /**
   * Build a `/sync` response body for `o.userId` covering what happened after `o.since`
   * (everything current if null). `empty` tells whether nothing at all changed for the user; `dropped`
   * counts new events of already-joined rooms cut off by the timeline limit (`limited: true`), which a
   * client that does not backfill never sees.
   */
  buildSync(o: SyncOptions): { body: any; empty: boolean; dropped: number } {
    let dropped = 0;
    const join: Record<string, any> = {};
    const invite: Record<string, any> = {};
    const leave: Record<string, any> = {};
    const since = o.since;
    for (const room of this.rooms.values()) {
      const now = room.membership(o.userId);
      const memberEv = room.stateEvent('m.room.member', o.userId);
      if (now === 'join') {
        const before = since === null ? undefined : room.membershipAt(o.userId, since);
        const fresh = since === null || before !== 'join';
        const entry = this.joinedRoom(room, fresh ? null : since, o, fresh || o.fullState);
        if (entry) {
          join[room.roomId] = entry.body;
          dropped += entry.dropped;
        }
      } else if (now === 'invite' && memberEv && (since === null || memberEv.pos > since)) {
        const events = INVITE_STATE_TYPES.map((t) => room.stateEvent(t))
          .filter((e): e is StoredEvent => !!e)
          .map((e) => this.stripped(e));
        const inviterEv = room.stateEvent('m.room.member', memberEv.sender);
        if (inviterEv) events.push(this.stripped(inviterEv));
        // Synapse appends the invite event itself in full client format.
        events.push(this.toClient(memberEv, { token: o.token }));
        invite[room.roomId] = { invite_state: { events } };
      } else if ((now === 'leave' || now === 'ban') && memberEv && since !== null && memberEv.pos > since) {
        const candidates = room.events.filter((e) => e.pos > since && e.pos <= memberEv.pos);
        const timeline = lastN(candidates, o.timelineLimit);
        const startPos = timeline.length ? timeline[0]!.pos - 1 : since;
        leave[room.roomId] = {
          timeline: {
            events: timeline.map((e) => this.toClient(e, { token: o.token })),
            limited: candidates.length > timeline.length,
            prev_batch: this.token(startPos),
          },
          state: { events: [] },
          account_data: { events: [] },
        };
      }
    }
    const accountData = [...this.accountData.entries()].filter(([, v]) => since === null || v.pos > since).map(([type, v]) => ({ type, content: v.content }));
    const empty = !Object.keys(join).length && !Object.keys(invite).length && !Object.keys(leave).length && !accountData.length;
    const body = {
      next_batch: this.token(this.pos),
      rooms: { join, invite, leave, knock: {} },
      account_data: { events: accountData },
      presence: { events: [] },
      to_device: { events: [] },
      device_lists: { changed: [], left: [] },
      device_one_time_keys_count: {},
    };
    return { body, empty, dropped };
  }

  /** One `rooms.join` entry; null if nothing to report for an incremental sync. */
  private joinedRoom(room: Room, from: number | null, o: SyncOptions, fullState: boolean): { body: any; dropped: number } | null {
    const candidates = from === null ? room.events : room.events.filter((e) => e.pos > from);
    const roomData = [...room.accountData.entries()].filter(([, v]) => from === null || v.pos > from).map(([type, v]) => ({ type, content: v.content }));
    if (from !== null && !candidates.length && !roomData.length && !fullState) return null;
    const timeline = lastN(candidates, o.timelineLimit);
    const startPos = timeline.length ? timeline[0]!.pos - 1 : (from ?? this.pos);
    let state: StoredEvent[];
    if (fullState || from === null) {
      state = room.stateAt(startPos);
    } else {
      // State changes that happened in the gap skipped by a limited timeline.
      const gap = new Map<string, StoredEvent>();
      for (const e of room.events) {
        if (e.pos > from && e.pos <= startPos && e.state_key !== undefined) gap.set(stateKeyOf(e.type, e.state_key), e);
      }
      state = [...gap.values()];
    }
    const joined = room.members('join');
    const body = {
      timeline: {
        events: timeline.map((e) => this.toClient(e, { token: o.token })),
        limited: candidates.length > timeline.length,
        prev_batch: this.token(startPos),
      },
      state: { events: state.map((e) => this.toClient(e, { token: o.token })) },
      account_data: { events: roomData },
      ephemeral: { events: [] },
      summary: { 'm.joined_member_count': joined.length, 'm.invited_member_count': room.members('invite').length },
      unread_notifications: { notification_count: 0, highlight_count: 0 },
    };
    return { body, dropped: from === null ? 0 : candidates.length - timeline.length };
  }

  /** Token for a stream position. */
  token(pos: number): string {
    return `s${this.epoch}_${pos}`;
  }

  /** Stream position of a token of this instance; null when absent, malformed or foreign. */
  parseToken(token: string | null): number | null {
    if (!token) return null;
    const m = /^s([A-Za-z0-9]+)_(\d+)$/.exec(token);
    if (!m || m[1] !== this.epoch) return null;
    const pos = Number(m[2]);
    return pos <= this.pos ? pos : null;
  }
}
