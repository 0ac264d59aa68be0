/**
 * A small fake Matrix homeserver (Client-Server API v1.x) for end-to-end tests of bots built on the real
 * matrix-bot-sdk `MatrixClient`. Plain `node:http` on 127.0.0.1, one authenticated user (the bot),
 * everything else (other users, rooms, invites, failures) is driven by the test through {@link FakeMatrix}.
 *
 * Implemented under `/_matrix/client/{v3,r0,v1,unstable}/`: whoami, account data (global and per room),
 * filters, joined_rooms, sync (with a real long poll), join/leave/forget, send (idempotent per
 * access token + txnId), state (get/put), joined_members, members, event, messages, redact, profile,
 * typing, receipts, read markers, presence, directory lookup, end-to-end encryption (keys/upload, keys/query,
 * keys/claim, sendToDevice; to-device events, device lists, one-time key counts and unused fallback key types
 * in /sync: see e2ee.ts); plus unauthenticated `/_matrix/client/versions`.
 * Errors use the spec's body `{"errcode":"M_…","error":"…"}`; unknown routes answer 404 M_UNRECOGNIZED
 * and are recorded in {@link FakeMatrix.unrecognized}.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { BadKeysRequest, FakeKeyServer } from './e2ee.js';
import { HomeserverModel, randomId, type Membership, type Room, type SyncOptions } from './model.js';

export interface FakeMatrixOptions {
  /** Access token the bot must use (default: random `syt_…`). */
  accessToken?: string;
  /** Default '@kbot:fake.local'. */
  botUserId?: string;
  /** Default 'kbot'. */
  botDisplayName?: string;
  /** Port on 127.0.0.1 (default: random free port). */
  port?: number;
  /** Timeline limit of /sync when the filter sets none (default 10, like Synapse). Older events are cut off with `limited: true`. */
  timelineLimit?: number;
  /** Synapse-like `rc_message` token bucket on PUT /send (off by default): over the limit → 429 M_LIMIT_EXCEEDED. */
  sendRateLimit?: { perSecond: number; burst: number };
  /** Record every request in `requests` (default true; turn off for very long benchmarks). */
  recordRequests?: boolean;
  /** Upper bound for how long a /sync long poll is held, whatever `timeout` asks (default 60000). */
  maxSyncTimeoutMs?: number;
  /** How long a send's transaction id is remembered for idempotency (Synapse: about 30 min). Default 30 min. */
  txnWindowMs?: number;
  /** The device of the bot's access token in whoami (default 'FAKEDEVICE'; null: a token without a device). */
  botDeviceId?: string | null;
}

export interface RecordedRequest {
  method: string;
  /** Decoded path, e.g. /_matrix/client/v3/rooms/!a:fake.local/send/m.room.message/txn1 */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  /** performance.now() at arrival (body read). */
  at: number;
  /** HTTP status of the answer, once answered. */
  status?: number;
}

export interface SentEvent {
  roomId: string;
  type: string;
  txnId: string;
  eventId: string;
  content: any;
  at: number;
}

export interface CreateRoomOptions {
  roomId?: string;
  /** Other users joined (default ['@alice:fake.local']). */
  members?: string[];
  /** Whether the bot is joined (default true). */
  joined?: boolean;
  /** m.room.power_levels content (default: see {@link defaultPowerLevels}). */
  powerLevels?: any;
  /** Adds m.room.encryption (m.megolm.v1.aes-sha2). */
  encrypted?: boolean;
  name?: string;
  /** A DM: exactly two members (the bot and the first of `members`), bot's member event has is_direct. */
  direct?: boolean;
  /** Canonical alias, e.g. '#kernel:fake.local' (resolvable by /join and /directory/room). */
  alias?: string;
  /** m.room.join_rules (default 'public', 'invite' for DMs). */
  joinRule?: 'public' | 'invite' | 'knock';
}

export interface FakeMatrix {
  url: string;
  port: number;
  accessToken: string;
  botUserId: string;
  /** The device of the bot's access token (null: none). */
  botDeviceId: string | null;
  /** Device keys, one-time keys and to-device messages of every user (test users upload and read here directly). */
  keys: FakeKeyServer;
  /** 'fake.local' */
  serverName: string;
  requests: RecordedRequest[];
  /** Requests that hit no known route (answered 404 M_UNRECOGNIZED). */
  unrecognized: RecordedRequest[];
  /** Events the bot sent via PUT /send (deduplicated per txnId), in order. */
  sent: SentEvent[];
  /** Number of /sync requests carrying `since` received so far. */
  readonly incrementalSyncs: number;
  /** New events of already-joined rooms that incremental syncs cut off (timeline `limited: true`); the bot never saw them. */
  readonly droppedSyncEvents: number;
  /** Create a room (see {@link CreateRoomOptions}); returns the room id. Wakes held syncs. */
  createRoom(o?: CreateRoomOptions): string;
  /** Add a timeline event from a (joined) user into a room and wake held syncs; returns the event_id. */
  sendEvent(roomId: string, ev: { sender: string; type?: string; content: any; ts?: number; stateKey?: string }): string;
  /** Convenience: an m.text message; returns the event_id. */
  sendText(
    roomId: string,
    sender: string,
    body: string,
    extra?: { formatted_body?: string; mentions?: { user_ids?: string[]; room?: boolean }; relatesTo?: any; ts?: number },
  ): string;
  /** Invite the bot to a new room from `inviter` (appears in rooms.invite of the next sync); returns the room id. */
  invite(inviter: string, o?: { roomId?: string; encrypted?: boolean; direct?: boolean; name?: string; powerLevels?: any }): string;
  /** Set a user's membership (e.g. kick the bot: `setMembership(r, bot, 'leave', '@admin:fake.local')`); returns the event_id. */
  setMembership(roomId: string, userId: string, membership: Membership, sender?: string): string;
  /** Set the bot's account data (global, or per room) as another device of the bot would; wakes held syncs. */
  setAccountData(type: string, content: any, roomId?: string): void;
  /** Make the next `times` (default 1) join attempts on a room (id or alias) fail with `status`. */
  failJoins(roomId: string, status: number, times?: number): void;
  /**
   * Make the next `times` (default 1) sends into a room fail; 429 carries retry_after_ms (default 50). With `raw`,
   * the answer is that body instead of a Matrix JSON error, as a proxy in front of a homeserver sends it
   * (a plain-text 502, an HTML 503). Status 0 drops the connection without an answer.
   */
  failSends(roomId: string, status: number, times?: number, retryAfterMs?: number, raw?: { contentType: string; body: string }): void;
  /**
   * PUT /send requests into rooms matching `pred` are handled as usual (the event is stored) but their
   * response is withheld, as when a connection dies after the server committed. `null` stops holding.
   */
  holdSends(pred: ((roomId: string) => boolean) | null): void;
  /** Send responses withheld so far by holdSends. */
  readonly heldSends: number;
  /** Resolve once the `count`-th (default 1) /sync with `since` has arrived, i.e. the bot's sync loop is live. */
  waitForSync(count?: number, timeoutMs?: number): Promise<void>;
  /** Resolve with the first sent event (already sent or future) matching pred; reject after timeoutMs (default 5000). */
  waitForSent(pred: (e: SentEvent) => boolean, timeoutMs?: number): Promise<SentEvent>;
  /** Resolve with the first recorded request (already received or future) matching pred; reject after timeoutMs (default 5000). */
  waitForRequest(pred: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  /** Whether a user (default: the bot) is currently joined to a room. */
  isJoined(roomId: string, userId?: string): boolean;
  /** The room's joined members (the bot included when joined). */
  joinedMembers(roomId: string): string[];
  /** The room's timeline in client format (with room_id), oldest first. */
  timeline(roomId: string): any[];
  /** Answer all held /sync long polls now (empty if nothing happened). Use after `client.stop()` to end the loop promptly. */
  releaseHeldSyncs(): void;
  /**
   * Stop listening and listen again on the same port, keeping all state. `graceful` (default true) answers
   * held long polls first; otherwise their sockets are destroyed like a crash (the SDK then backs off 5–15 s).
   */
  restart(o?: { downMs?: number; graceful?: boolean }): Promise<void>;
  /** Go down until `comeBack()`: stop listening and drop every connection (held polls included), keeping all state; connections are refused meanwhile. */
  goDown(): Promise<void>;
  /** Listen again on the same port after `goDown()`. */
  comeBack(): Promise<void>;
  /** Release held long polls, close all connections and the server. */
  close(): Promise<void>;
}

const CLIENT_VERSIONS = ['r0.6.1', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10', 'v1.11'];
const API_VERSIONS = new Set(['v3', 'r0', 'v1', 'unstable']);

/** Spec errcode for an injected failure status. */
function errcodeFor(status: number): string {
  switch (status) {
    case 401:
      return 'M_UNKNOWN_TOKEN';
    case 403:
      return 'M_FORBIDDEN';
    case 404:
      return 'M_NOT_FOUND';
    case 429:
      return 'M_LIMIT_EXCEEDED';
    default:
      return 'M_UNKNOWN';
  }
}

/** Default m.room.power_levels content: `admin` at 100, everyone else (the bot included) at users_default 0. */
export function defaultPowerLevels(admin: string): any {
  return {
    users: { [admin]: 100 },
    users_default: 0,
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 0,
    events: {
      'm.room.name': 50,
      'm.room.power_levels': 100,
      'm.room.history_visibility': 100,
      'm.room.canonical_alias': 50,
      'm.room.avatar': 50,
      'm.room.tombstone': 100,
      'm.room.server_acl': 100,
      'm.room.encryption': 100,
    },
    notifications: { room: 50 },
  };
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  body: any;
  rec: RecordedRequest;
  token: string;
  /** The http.Server that accepted the request (differs from the current one during a restart). */
  server: Server;
}

type Handler = (c: Ctx) => void;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

interface Failure {
  status: number;
  remaining: number;
  retryAfterMs: number;
  raw?: { contentType: string; body: string };
}

interface HeldSync {
  c: Ctx;
  opts: SyncOptions;
  timer: NodeJS.Timeout;
}

/** Thrown inside handlers to answer with a Matrix error. */
class MatrixHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    readonly error: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(`${status} ${errcode}: ${error}`);
  }
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class FakeMatrixServer implements FakeMatrix {
  url = '';
  port = 0;
  readonly accessToken: string;
  readonly botUserId: string;
  readonly botDeviceId: string | null;
  readonly serverName = 'fake.local';
  readonly requests: RecordedRequest[] = [];
  readonly unrecognized: RecordedRequest[] = [];
  readonly sent: SentEvent[] = [];

  private readonly model = new HomeserverModel(this.serverName);
  readonly keys = new FakeKeyServer(this.model);
  private readonly toDeviceTxns = new Set<string>();
  private readonly routes: Route[] = [];
  private readonly held = new Set<HeldSync>();
  private readonly waiters = new Set<() => void>();
  private readonly txns = new Map<string, { eventId: string; at: number }>();
  private readonly txnWindowMs: number;
  private holdPred: ((roomId: string) => boolean) | null = null;
  heldSends = 0;
  private readonly filters = new Map<string, any>();
  private readonly joinFailures = new Map<string, Failure>();
  private readonly sendFailures = new Map<string, Failure>();
  private readonly timelineLimit: number;
  private readonly recordRequests: boolean;
  private readonly maxSyncTimeoutMs: number;
  private readonly rateLimit: { perSecond: number; burst: number; tokens: number; last: number } | undefined;
  private server: Server | undefined;
  private wakeScheduled = false;
  private filterCounter = 0;
  private syncsWithSince = 0;
  private dropped = 0;

  constructor(opts: FakeMatrixOptions) {
    this.accessToken = opts.accessToken ?? `syt_${randomId(18)}`;
    this.botUserId = opts.botUserId ?? `@kbot:${this.serverName}`;
    this.botDeviceId = opts.botDeviceId === undefined ? 'FAKEDEVICE' : opts.botDeviceId;
    this.timelineLimit = opts.timelineLimit ?? 10;
    this.recordRequests = opts.recordRequests ?? true;
    this.maxSyncTimeoutMs = opts.maxSyncTimeoutMs ?? 60_000;
    this.txnWindowMs = opts.txnWindowMs ?? 30 * 60_000;
    this.rateLimit = opts.sendRateLimit ? { ...opts.sendRateLimit, tokens: opts.sendRateLimit.burst, last: performance.now() } : undefined;
    this.model.profiles.set(this.botUserId, { displayname: opts.botDisplayName ?? 'kbot' });
    this.model.onChange = () => this.scheduleWake();
    this.defineRoutes();
  }

  get incrementalSyncs(): number {
    return this.syncsWithSince;
  }

  get droppedSyncEvents(): number {
    return this.dropped;
  }

  private get admin(): string {
    return `@admin:${this.serverName}`;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Listen on 127.0.0.1:`port` (0 = random). */
  async listen(port: number): Promise<void> {
    const server = createServer((req, res) => {
      // A client that aborts mid-body makes the body read throw: just drop that request.
      this.onRequest(server, req, res).catch(() => res.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
  }

  /**
   * Stop listening on `server`, then (after `beforeDrain`, e.g. listening anew) answer or drop its held
   * polls and close all its connections. Answers on a retired server carry `Connection: close`.
   */
  private async retire(server: Server, graceful: boolean, beforeDrain: () => Promise<void> = async () => {}): Promise<void> {
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeIdleConnections();
    await beforeDrain();
    const finished: Promise<void>[] = [];
    for (const h of [...this.held]) {
      if (h.c.server !== server) continue;
      if (graceful) {
        finished.push(new Promise((r) => h.c.res.once('close', () => r())));
        this.answerHeld(h);
      } else {
        this.held.delete(h);
        clearTimeout(h.timer);
        h.c.res.destroy();
      }
    }
    let cap: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(finished), new Promise<void>((r) => (cap = setTimeout(r, 500)))]);
    clearTimeout(cap);
    server.closeAllConnections();
    await closed;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await this.retire(server, true);
  }

  async goDown(): Promise<void> {
    const server = this.server;
    if (!server) throw new Error('fake matrix: goDown() while down or closed');
    this.server = undefined;
    await this.retire(server, false);
  }

  async comeBack(): Promise<void> {
    if (this.server) return;
    await this.listen(this.port);
  }

  async restart(o: { downMs?: number; graceful?: boolean } = {}): Promise<void> {
    const server = this.server;
    if (!server) throw new Error('fake matrix: restart() after close()');
    const port = this.port;
    const graceful = o.graceful ?? true;
    if (graceful && !o.downMs) {
      // Seamless: listen anew before answering the old long polls, so the client's next /sync finds the new server.
      await this.retire(server, true, () => this.listen(port));
      return;
    }
    this.server = undefined;
    await this.retire(server, graceful);
    if (o.downMs) await delay(o.downMs);
    await this.listen(port);
  }

  // ---------------------------------------------------------------- test-facing API

  createRoom(o: CreateRoomOptions = {}): string {
    const roomId = o.roomId ?? `!${randomId()}:${this.serverName}`;
    this.model.addRoom(roomId);
    const creator = this.admin;
    const others = o.members ?? [`@alice:${this.serverName}`];
    const members = o.direct ? others.slice(0, 1) : others;
    const state = (type: string, content: any, sender = creator) => this.model.append(roomId, { sender, type, stateKey: '', content });
    state('m.room.create', { room_version: '10', creator });
    state('m.room.power_levels', o.powerLevels ?? defaultPowerLevels(creator));
    state('m.room.join_rules', { join_rule: o.joinRule ?? (o.direct ? 'invite' : 'public') });
    state('m.room.history_visibility', { history_visibility: 'shared' });
    if (o.name) state('m.room.name', { name: o.name });
    if (o.alias) {
      this.model.aliases.set(o.alias, roomId);
      state('m.room.canonical_alias', { alias: o.alias });
    }
    if (o.encrypted) state('m.room.encryption', { algorithm: 'm.megolm.v1.aes-sha2' });
    for (const m of members) this.appendMembership(roomId, m, 'join', m);
    if (o.joined !== false) this.appendMembership(roomId, this.botUserId, 'join', this.botUserId, o.direct ? { is_direct: true } : {});
    return roomId;
  }

  sendEvent(roomId: string, ev: { sender: string; type?: string; content: any; ts?: number; stateKey?: string }): string {
    const room = this.requireRoom(roomId);
    const type = ev.type ?? 'm.room.message';
    if (type !== 'm.room.member' && room.membership(ev.sender) !== 'join') {
      throw new Error(`fake matrix: ${ev.sender} is not joined to ${roomId} (add them via createRoom({members}) or setMembership)`);
    }
    const e = this.model.append(roomId, {
      sender: ev.sender,
      type,
      content: ev.content,
      ...(ev.ts !== undefined ? { ts: ev.ts } : {}),
      ...(ev.stateKey !== undefined ? { stateKey: ev.stateKey } : {}),
    });
    return e.event_id;
  }

  sendText(
    roomId: string,
    sender: string,
    body: string,
    extra: { formatted_body?: string; mentions?: { user_ids?: string[]; room?: boolean }; relatesTo?: any; ts?: number } = {},
  ): string {
    const content: any = { msgtype: 'm.text', body };
    if (extra.formatted_body !== undefined) {
      content.format = 'org.matrix.custom.html';
      content.formatted_body = extra.formatted_body;
    }
    if (extra.mentions) content['m.mentions'] = extra.mentions;
    if (extra.relatesTo) content['m.relates_to'] = extra.relatesTo;
    return this.sendEvent(roomId, { sender, content, ...(extra.ts !== undefined ? { ts: extra.ts } : {}) });
  }

  invite(inviter: string, o: { roomId?: string; encrypted?: boolean; direct?: boolean; name?: string; powerLevels?: any } = {}): string {
    const roomId = o.roomId ?? `!${randomId()}:${this.serverName}`;
    this.model.addRoom(roomId);
    const state = (type: string, content: any) => this.model.append(roomId, { sender: inviter, type, stateKey: '', content });
    state('m.room.create', { room_version: '10', creator: inviter });
    const pl = o.powerLevels ?? defaultPowerLevels(this.admin);
    if (!o.powerLevels) pl.users[inviter] = 100; // the creator's level, as real servers set it
    state('m.room.power_levels', pl);
    state('m.room.join_rules', { join_rule: 'invite' });
    state('m.room.history_visibility', { history_visibility: 'shared' });
    if (o.name) state('m.room.name', { name: o.name });
    if (o.encrypted) state('m.room.encryption', { algorithm: 'm.megolm.v1.aes-sha2' });
    this.appendMembership(roomId, inviter, 'join', inviter);
    this.appendMembership(roomId, this.botUserId, 'invite', inviter, o.direct ? { is_direct: true } : {});
    return roomId;
  }

  setMembership(roomId: string, userId: string, membership: Membership, sender = userId): string {
    this.requireRoom(roomId);
    return this.appendMembership(roomId, userId, membership, sender);
  }

  setAccountData(type: string, content: any, roomId?: string): void {
    if (roomId) this.requireRoom(roomId);
    this.model.setAccountData(type, content, roomId);
  }

  failJoins(roomId: string, status: number, times = 1): void {
    this.joinFailures.set(roomId, { status, remaining: times, retryAfterMs: 50 });
  }

  holdSends(pred: ((roomId: string) => boolean) | null): void {
    this.holdPred = pred;
  }

  failSends(roomId: string, status: number, times = 1, retryAfterMs = 50, raw?: { contentType: string; body: string }): void {
    this.sendFailures.set(roomId, { status, remaining: times, retryAfterMs, ...(raw ? { raw } : {}) });
  }

  waitForSync(count = 1, timeoutMs = 10_000): Promise<void> {
    return this.waitFor(() => (this.syncsWithSince >= count ? true : undefined), timeoutMs, `sync #${count} with since`).then(() => undefined);
  }

  waitForSent(pred: (e: SentEvent) => boolean, timeoutMs = 5000): Promise<SentEvent> {
    return this.waitFor(() => this.sent.find(pred), timeoutMs, 'a sent event matching the predicate');
  }

  waitForRequest(pred: (r: RecordedRequest) => boolean, timeoutMs = 5000): Promise<RecordedRequest> {
    return this.waitFor(() => this.requests.find(pred), timeoutMs, 'a request matching the predicate');
  }

  isJoined(roomId: string, userId = this.botUserId): boolean {
    return this.model.rooms.get(roomId)?.membership(userId) === 'join';
  }

  joinedMembers(roomId: string): string[] {
    return this.requireRoom(roomId).members('join');
  }

  timeline(roomId: string): any[] {
    return this.requireRoom(roomId).events.map((e) => this.model.toClient(e, { withRoomId: true }));
  }

  releaseHeldSyncs(): void {
    for (const h of [...this.held]) this.answerHeld(h);
  }

  // ---------------------------------------------------------------- helpers

  private requireRoom(roomId: string): Room {
    const room = this.model.rooms.get(roomId);
    if (!room) throw new Error(`fake matrix: unknown room ${roomId}`);
    return room;
  }

  private appendMembership(roomId: string, userId: string, membership: Membership, sender: string, extra: any = {}): string {
    const profile = this.model.ensureProfile(userId);
    const content: any = { membership, ...extra };
    if (membership === 'join' || membership === 'invite') {
      if (profile.displayname !== undefined) content.displayname = profile.displayname;
      if (profile.avatar_url !== undefined) content.avatar_url = profile.avatar_url;
    }
    return this.model.append(roomId, { sender, type: 'm.room.member', stateKey: userId, content }).event_id;
  }

  private waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const hit = probe();
    if (hit !== undefined) return Promise.resolve(hit);
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const v = probe();
        if (v === undefined) return;
        cleanup();
        resolve(v);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake matrix: timed out after ${timeoutMs}ms waiting for ${what}\n${this.describeRecent()}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Human-readable tail of the request log and sent events, for timeout messages. */
  private describeRecent(n = 20): string {
    const lines = this.requests.slice(-n).map((r) => {
      const q = r.query.toString();
      return `  ${r.method} ${r.path}${q ? `?${q}` : ''} -> ${r.status ?? 'pending'}`;
    });
    const sent = this.sent.slice(-5).map((s) => `  ${s.roomId} ${s.type} ${JSON.stringify(s.content).slice(0, 120)}`);
    const dropped = this.dropped
      ? `\nNOTE: ${this.dropped} event(s) were cut from incremental syncs by the timeline limit (limited: true); raise the timelineLimit option if the bot must see bursts.`
      : '';
    return `recent requests (${this.requests.length} total):\n${lines.join('\n') || '  (none)'}\nlast sent events (${this.sent.length} total):\n${sent.join('\n') || '  (none)'}${dropped}`;
  }

  private takeFailure(map: Map<string, Failure>, ...keys: string[]): Failure | undefined {
    for (const k of keys) {
      const f = map.get(k);
      if (!f) continue;
      if (--f.remaining <= 0) map.delete(k);
      return f;
    }
    return undefined;
  }

  private failureError(f: Failure, what: string): MatrixHttpError {
    const extra = f.status === 429 ? { retry_after_ms: f.retryAfterMs } : {};
    return new MatrixHttpError(f.status, errcodeFor(f.status), `Injected failure: ${what}`, extra);
  }

  private requireJoined(roomId: string): Room {
    const room = this.model.rooms.get(roomId);
    if (room?.membership(this.botUserId) !== 'join') {
      throw new MatrixHttpError(403, 'M_FORBIDDEN', `User ${this.botUserId} not in room ${roomId}`);
    }
    return room;
  }

  private requireSelf(userId: string, what: string): void {
    if (userId !== this.botUserId) throw new MatrixHttpError(403, 'M_FORBIDDEN', `Cannot ${what} for other users.`);
  }

  private requireObjectBody(body: any): void {
    if (body === undefined) throw new MatrixHttpError(400, 'M_NOT_JSON', 'Content not JSON.');
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new MatrixHttpError(400, 'M_BAD_JSON', 'Content must be a JSON object.');
  }

  private requireLevel(room: Room, type: string, isState: boolean): void {
    const have = room.userLevel(this.botUserId);
    const need = room.requiredLevel(type, isState);
    if (have < need) {
      throw new MatrixHttpError(403, 'M_FORBIDDEN', `You don't have permission to post that to the room. user_level (${have}) < send_level (${need})`);
    }
  }

  private consumeRateLimit(): void {
    const rl = this.rateLimit;
    if (!rl) return;
    const now = performance.now();
    rl.tokens = Math.min(rl.burst, rl.tokens + ((now - rl.last) / 1000) * rl.perSecond);
    rl.last = now;
    if (rl.tokens < 1) {
      const retry = Math.ceil(((1 - rl.tokens) / rl.perSecond) * 1000);
      throw new MatrixHttpError(429, 'M_LIMIT_EXCEEDED', 'Too Many Requests', { retry_after_ms: retry });
    }
    rl.tokens -= 1;
  }

  private timelineLimitFor(filterParam: string | null): number {
    let filter: any;
    if (filterParam?.startsWith('{')) {
      try {
        filter = JSON.parse(filterParam);
      } catch {
        throw new MatrixHttpError(400, 'M_INVALID_PARAM', 'Invalid filter JSON');
      }
    } else if (filterParam) {
      filter = this.filters.get(filterParam);
      if (!filter) throw new MatrixHttpError(400, 'M_INVALID_PARAM', `Unknown filter ${filterParam}`);
    }
    const limit = filter?.room?.timeline?.limit;
    return typeof limit === 'number' && limit >= 0 ? limit : this.timelineLimit;
  }

  // ---------------------------------------------------------------- HTTP plumbing

  private reply(c: Ctx, status: number, body: unknown, headers: Record<string, string> = {}): void {
    c.rec.status = status;
    const res = c.res;
    if (res.writableEnded || res.destroyed) return;
    const h: Record<string, string> = { 'Content-Type': 'application/json', ...headers };
    if (c.server !== this.server) h.Connection = 'close';
    res.writeHead(status, h);
    res.end(JSON.stringify(body));
    this.notify();
  }

  private replyRaw(c: Ctx, status: number, contentType: string, body: string): void {
    c.rec.status = status;
    if (c.res.writableEnded || c.res.destroyed) return;
    c.res.writeHead(status, { 'Content-Type': contentType });
    c.res.end(body);
    this.notify();
  }

  private replyError(c: Ctx, e: MatrixHttpError): void {
    const headers: Record<string, string> = {};
    const retry = e.extra.retry_after_ms;
    if (e.status === 429 && typeof retry === 'number') headers['Retry-After'] = String(Math.ceil(retry / 1000));
    this.reply(c, e.status, { errcode: e.errcode, error: e.error, ...e.extra }, headers);
  }

  private async onRequest(server: Server, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const segments = url.pathname
      .split('/')
      .slice(1)
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: any;
    let badJson = false;
    if (raw.length) {
      try {
        body = JSON.parse(raw);
      } catch {
        badJson = true;
        body = raw;
      }
    }
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: `/${segments.join('/')}`,
      query: url.searchParams,
      headers: req.headers,
      body,
      at: performance.now(),
    };
    if (this.recordRequests) this.requests.push(rec);
    const c: Ctx = { req, res, params: {}, query: url.searchParams, body, rec, token: '', server };
    try {
      if (segments[0] !== '_matrix' || segments[1] !== 'client') throw this.unrecognizedError(rec);
      if (segments.length === 3 && segments[2] === 'versions' && rec.method === 'GET') {
        this.reply(c, 200, { versions: CLIENT_VERSIONS, unstable_features: {} });
        return;
      }
      if (!API_VERSIONS.has(segments[2] ?? '')) throw this.unrecognizedError(rec);
      const rest = segments.slice(3);
      const route = this.routes.find((r) => r.method === rec.method && this.matchRoute(r, rest, c.params));
      if (!route) throw this.unrecognizedError(rec);
      c.token = this.authenticate(req, url.searchParams);
      if (badJson) throw new MatrixHttpError(400, 'M_NOT_JSON', 'Content not JSON.');
      route.handler(c);
    } catch (e) {
      if (e instanceof MatrixHttpError) this.replyError(c, e);
      else this.reply(c, 500, { errcode: 'M_UNKNOWN', error: `fake matrix internal error: ${(e as Error)?.stack ?? String(e)}` });
    }
  }

  private unrecognizedError(rec: RecordedRequest): MatrixHttpError {
    this.unrecognized.push(rec);
    return new MatrixHttpError(404, 'M_UNRECOGNIZED', 'Unrecognized request');
  }

  private authenticate(req: IncomingMessage, query: URLSearchParams): string {
    const header = req.headers.authorization;
    const bearer = header && /^Bearer\s+(.+)$/i.exec(header)?.[1];
    const token = bearer || query.get('access_token');
    if (!token) throw new MatrixHttpError(401, 'M_MISSING_TOKEN', 'Missing access token.');
    if (token !== this.accessToken) throw new MatrixHttpError(401, 'M_UNKNOWN_TOKEN', 'Invalid access token passed.', { soft_logout: false });
    return token;
  }

  private matchRoute(r: Route, segs: string[], params: Record<string, string>): boolean {
    if (r.parts.length !== segs.length) return false;
    const found: Record<string, string> = {};
    for (let i = 0; i < segs.length; i++) {
      const p = r.parts[i]!;
      const s = segs[i]!;
      if (p.startsWith(':')) found[p.slice(1)] = s;
      else if (p !== s) return false;
    }
    Object.assign(params, found);
    return true;
  }

  private route(method: string, pattern: string, handler: Handler): void {
    this.routes.push({ method, parts: pattern.split('/'), handler });
  }

  // ---------------------------------------------------------------- sync

  private handleSync(c: Ctx): void {
    const sinceRaw = c.query.get('since');
    if (sinceRaw !== null) {
      this.syncsWithSince++;
      this.notify();
    }
    const since = this.model.parseToken(sinceRaw);
    const timeout = Math.min(Math.max(0, Number(c.query.get('timeout') ?? 0) || 0), this.maxSyncTimeoutMs);
    const opts: SyncOptions = {
      userId: this.botUserId,
      since,
      timelineLimit: this.timelineLimitFor(c.query.get('filter')),
      fullState: c.query.get('full_state') === 'true',
      token: c.token,
    };
    const first = this.buildSync(opts);
    if (!first.empty || since === null || timeout === 0 || c.server !== this.server) {
      this.reply(c, 200, first.body);
      return;
    }
    const h: HeldSync = { c, opts, timer: setTimeout(() => this.answerHeld(h), timeout) };
    this.held.add(h);
    c.res.once('close', () => {
      clearTimeout(h.timer);
      this.held.delete(h);
    });
  }

  /** Build a sync response, counting events lost to the timeline limit. */
  private buildSync(opts: SyncOptions): { body: any; empty: boolean } {
    const r = this.model.buildSync(opts);
    this.dropped += r.dropped;
    if (!this.botDeviceId) return r;
    const e2ee = this.keys.syncPart(this.botUserId, this.botDeviceId, opts.since, (u) => this.sharesRoom(u));
    Object.assign(r.body, e2ee.body);
    return { body: r.body, empty: r.empty && !e2ee.news };
  }

  private sharesRoom(userId: string): boolean {
    for (const room of this.model.rooms.values()) {
      if (room.membership(this.botUserId) === 'join' && room.membership(userId) === 'join') return true;
    }
    return false;
  }

  /** Answer a held long poll with whatever is new (possibly nothing, with a fresh next_batch). */
  private answerHeld(h: HeldSync): void {
    if (!this.held.delete(h)) return;
    clearTimeout(h.timer);
    this.reply(h.c, 200, this.buildSync(h.opts).body);
  }

  private scheduleWake(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      for (const h of [...this.held]) {
        const r = this.buildSync(h.opts);
        if (r.empty) continue;
        this.held.delete(h);
        clearTimeout(h.timer);
        this.reply(h.c, 200, r.body);
      }
    });
  }

  // ---------------------------------------------------------------- routes

  private join(c: Ctx, idOrAlias: string): void {
    const room = this.model.resolveRoom(idOrAlias);
    const f = this.takeFailure(this.joinFailures, idOrAlias, ...(room ? [room.roomId] : []));
    if (f) throw this.failureError(f, `join ${idOrAlias}`);
    if (!room) throw new MatrixHttpError(404, 'M_NOT_FOUND', `No known servers for ${idOrAlias}`);
    const m = room.membership(this.botUserId);
    if (m === 'join') {
      this.reply(c, 200, { room_id: room.roomId });
      return;
    }
    if (m === 'ban') throw new MatrixHttpError(403, 'M_FORBIDDEN', 'You are banned from this room');
    const rule = room.stateEvent('m.room.join_rules')?.content?.join_rule ?? 'invite';
    if (m !== 'invite' && rule !== 'public') throw new MatrixHttpError(403, 'M_FORBIDDEN', 'You are not invited to this room.');
    this.appendMembership(room.roomId, this.botUserId, 'join', this.botUserId);
    this.reply(c, 200, { room_id: room.roomId });
  }

  /** The Client-Server API routes, one method per area. */
  private defineRoutes(): void {
    this.route('GET', 'account/whoami', (c) =>
      this.reply(c, 200, { user_id: this.botUserId, ...(this.botDeviceId ? { device_id: this.botDeviceId } : {}), is_guest: false }),
    );
    this.e2eeRoutes();
    this.accountDataRoutes();
    this.filterRoutes();
    this.membershipRoutes();
    this.sendRoutes();
    this.stateRoutes();
    this.memberRoutes();
    this.readRoutes();
    this.profileRoutes();
    this.noopRoutes();
  }

  /** 200 with an empty JSON object. */
  private replyEmpty(c: Ctx): void {
    this.reply(c, 200, {});
  }

  /** End-to-end encryption (the bot's device; test users call `keys` directly). */
  private e2eeRoutes(): void {
    const keysCall = (c: Ctx, fn: () => unknown): void => {
      this.requireObjectBody(c.body);
      try {
        this.reply(c, 200, fn());
      } catch (e) {
        if (e instanceof BadKeysRequest) throw new MatrixHttpError(400, 'M_INVALID_PARAM', e.message);
        throw e;
      }
    };
    const device = (): string => {
      if (!this.botDeviceId) throw new MatrixHttpError(400, 'M_UNKNOWN', 'This access token has no device');
      return this.botDeviceId;
    };
    this.route('POST', 'keys/upload', (c) => keysCall(c, () => this.keys.upload(this.botUserId, device(), c.body)));
    this.route('POST', 'keys/query', (c) => keysCall(c, () => this.keys.query(c.body)));
    this.route('POST', 'keys/claim', (c) => keysCall(c, () => this.keys.claim(c.body)));
    this.route('PUT', 'sendToDevice/:type/:txnId', (c) => {
      this.requireObjectBody(c.body);
      const key = `${c.token}\u0000${c.params.txnId}`;
      if (!this.toDeviceTxns.has(key)) {
        this.toDeviceTxns.add(key);
        this.keys.send(this.botUserId, c.params.type!, c.body.messages);
      }
      this.replyEmpty(c);
    });
  }

  /** Account data (global and per room). */
  private accountDataRoutes(): void {
    this.route('GET', 'user/:userId/account_data/:type', (c) => {
      this.requireSelf(c.params.userId!, 'get account data');
      const entry = this.model.accountData.get(c.params.type!);
      if (!entry) throw new MatrixHttpError(404, 'M_NOT_FOUND', 'Account data not found');
      this.reply(c, 200, entry.content);
    });
    this.route('PUT', 'user/:userId/account_data/:type', (c) => {
      this.requireSelf(c.params.userId!, 'add account data');
      this.requireObjectBody(c.body);
      this.model.setAccountData(c.params.type!, c.body);
      this.replyEmpty(c);
    });
    this.route('GET', 'user/:userId/rooms/:roomId/account_data/:type', (c) => {
      this.requireSelf(c.params.userId!, 'get account data');
      const entry = this.model.rooms.get(c.params.roomId!)?.accountData.get(c.params.type!);
      if (!entry) throw new MatrixHttpError(404, 'M_NOT_FOUND', 'Room account data not found');
      this.reply(c, 200, entry.content);
    });
    this.route('PUT', 'user/:userId/rooms/:roomId/account_data/:type', (c) => {
      this.requireSelf(c.params.userId!, 'add account data');
      this.requireObjectBody(c.body);
      if (!this.model.rooms.has(c.params.roomId!)) throw new MatrixHttpError(404, 'M_NOT_FOUND', 'Room not found');
      this.model.setAccountData(c.params.type!, c.body, c.params.roomId!);
      this.replyEmpty(c);
    });
  }

  /** Filters. */
  private filterRoutes(): void {
    this.route('POST', 'user/:userId/filter', (c) => {
      this.requireSelf(c.params.userId!, 'create filters');
      this.requireObjectBody(c.body);
      const id = String(++this.filterCounter);
      this.filters.set(id, c.body);
      this.reply(c, 200, { filter_id: id });
    });
    this.route('GET', 'user/:userId/filter/:filterId', (c) => {
      this.requireSelf(c.params.userId!, 'get filters');
      const f = this.filters.get(c.params.filterId!);
      if (!f) throw new MatrixHttpError(404, 'M_NOT_FOUND', 'No such filter');
      this.reply(c, 200, f);
    });

    this.route('GET', 'joined_rooms', (c) => {
      const ids = [...this.model.rooms.values()].filter((r) => r.membership(this.botUserId) === 'join').map((r) => r.roomId);
      this.reply(c, 200, { joined_rooms: ids });
    });

    this.route('GET', 'sync', (c) => this.handleSync(c));
  }

  /** Membership. */
  private membershipRoutes(): void {
    this.route('POST', 'join/:roomIdOrAlias', (c) => this.join(c, c.params.roomIdOrAlias!));
    this.route('POST', 'rooms/:roomId/join', (c) => this.join(c, c.params.roomId!));
    this.route('POST', 'rooms/:roomId/leave', (c) => {
      const room = this.model.rooms.get(c.params.roomId!);
      if (!room) throw new MatrixHttpError(404, 'M_NOT_FOUND', 'Unknown room');
      const m = room.membership(this.botUserId);
      if (m !== 'join' && m !== 'invite' && m !== 'knock') throw new MatrixHttpError(403, 'M_FORBIDDEN', `User ${this.botUserId} not in room ${room.roomId}`);
      const reason = c.body?.reason;
      this.model.append(room.roomId, {
        sender: this.botUserId,
        type: 'm.room.member',
        stateKey: this.botUserId,
        content: { membership: 'leave', ...(reason ? { reason } : {}) },
      });
      this.replyEmpty(c);
    });
    this.route('POST', 'rooms/:roomId/forget', (c) => this.replyEmpty(c));
  }

  /** Sending. */
  private sendRoutes(): void {
    this.route('PUT', 'rooms/:roomId/send/:type/:txnId', (c) => {
      const { roomId, type, txnId } = c.params as { roomId: string; type: string; txnId: string };
      const key = `${c.token}\u0000${txnId}`;
      const prior = this.txns.get(key);
      if (prior && Date.now() - prior.at < this.txnWindowMs) return this.reply(c, 200, { event_id: prior.eventId });
      const f = this.takeFailure(this.sendFailures, roomId);
      if (f?.status === 0) {
        c.rec.status = 0;
        return void c.res.destroy(); // the connection drops without an answer
      }
      if (f?.raw) return this.replyRaw(c, f.status, f.raw.contentType, f.raw.body);
      if (f) throw this.failureError(f, `send into ${roomId}`);
      this.consumeRateLimit();
      this.requireObjectBody(c.body);
      const room = this.requireJoined(roomId);
      this.requireLevel(room, type, false);
      const ev = this.model.append(roomId, { sender: this.botUserId, type, content: c.body, txnId, txnToken: c.token });
      this.txns.set(key, { eventId: ev.event_id, at: Date.now() });
      this.sent.push({ roomId, type, txnId, eventId: ev.event_id, content: c.body, at: performance.now() });
      if (this.holdPred?.(roomId)) {
        this.heldSends += 1;
        this.notify();
        return; // committed, but the client never hears back
      }
      this.reply(c, 200, { event_id: ev.event_id });
    });
    this.route('PUT', 'rooms/:roomId/redact/:eventId/:txnId', (c) => {
      const { roomId, eventId, txnId } = c.params as { roomId: string; eventId: string; txnId: string };
      const key = `${c.token}\u0000redact\u0000${txnId}`;
      const prior = this.txns.get(key)?.eventId;
      if (prior) return this.reply(c, 200, { event_id: prior });
      const room = this.requireJoined(roomId);
      const target = this.model.eventsById.get(eventId);
      if (target && target.sender !== this.botUserId && room.userLevel(this.botUserId) < Number(room.powerLevels().redact ?? 50)) {
        throw new MatrixHttpError(403, 'M_FORBIDDEN', "You don't have permission to redact events");
      }
      const content = { ...(c.body ?? {}), redacts: eventId };
      const ev = this.model.append(roomId, { sender: this.botUserId, type: 'm.room.redaction', content, redacts: eventId, txnId, txnToken: c.token });
      this.txns.set(key, { eventId: ev.event_id, at: Date.now() });
      this.reply(c, 200, { event_id: ev.event_id });
    });
  }

  /** State. */
  private stateRoutes(): void {
    const getState = (c: Ctx, stateKey: string): void => {
      const room = this.requireJoined(c.params.roomId!);
      const ev = room.stateEvent(c.params.type!, stateKey);
      if (!ev) throw new MatrixHttpError(404, 'M_NOT_FOUND', 'Event not found.');
      this.reply(c, 200, c.query.get('format') === 'event' ? this.model.toClient(ev, { withRoomId: true }) : ev.content);
    };
    const putState = (c: Ctx, stateKey: string): void => {
      const room = this.requireJoined(c.params.roomId!);
      this.requireObjectBody(c.body);
      this.requireLevel(room, c.params.type!, true);
      const ev = this.model.append(room.roomId, { sender: this.botUserId, type: c.params.type!, stateKey, content: c.body });
      this.reply(c, 200, { event_id: ev.event_id });
    };
    this.route('GET', 'rooms/:roomId/state/:type', (c) => getState(c, ''));
    this.route('GET', 'rooms/:roomId/state/:type/:stateKey', (c) => getState(c, c.params.stateKey!));
    this.route('PUT', 'rooms/:roomId/state/:type', (c) => putState(c, ''));
    this.route('PUT', 'rooms/:roomId/state/:type/:stateKey', (c) => putState(c, c.params.stateKey!));
    this.route('GET', 'rooms/:roomId/state', (c) => {
      const room = this.requireJoined(c.params.roomId!);
      this.reply(
        c,
        200,
        [...room.state.values()].map((e) => this.model.toClient(e, { withRoomId: true })),
      );
    });
  }

  /** Members. */
  private memberRoutes(): void {
    this.route('GET', 'rooms/:roomId/joined_members', (c) => {
      const room = this.requireJoined(c.params.roomId!);
      const joined: Record<string, { display_name: string | null; avatar_url: string | null }> = {};
      for (const uid of room.members('join')) {
        const content = room.stateEvent('m.room.member', uid)?.content ?? {};
        joined[uid] = { display_name: content.displayname ?? null, avatar_url: content.avatar_url ?? null };
      }
      this.reply(c, 200, { joined });
    });
    this.route('GET', 'rooms/:roomId/members', (c) => {
      const room = this.requireJoined(c.params.roomId!);
      const want = c.query.get('membership');
      const notWant = c.query.get('not_membership');
      const chunk = [...room.state.values()]
        .filter((e) => e.type === 'm.room.member')
        .filter((e) => (!want || e.content?.membership === want) && (!notWant || e.content?.membership !== notWant))
        .map((e) => this.model.toClient(e, { withRoomId: true }));
      this.reply(c, 200, { chunk });
    });
  }

  /** Reading events. */
  private readRoutes(): void {
    this.route('GET', 'rooms/:roomId/event/:eventId', (c) => {
      this.requireJoined(c.params.roomId!);
      const ev = this.model.eventsById.get(c.params.eventId!);
      if (!ev || ev.room_id !== c.params.roomId) throw new MatrixHttpError(404, 'M_NOT_FOUND', 'Event not found.');
      this.reply(c, 200, this.model.toClient(ev, { withRoomId: true, token: c.token }));
    });
    this.route('GET', 'rooms/:roomId/messages', (c) => {
      const room = this.requireJoined(c.params.roomId!);
      const dir = c.query.get('dir') === 'f' ? 'f' : 'b';
      const limit = Math.max(1, Number(c.query.get('limit') ?? 10) || 10);
      const fromRaw = c.query.get('from');
      const from = this.model.parseToken(fromRaw) ?? (dir === 'b' ? this.model.pos : 0);
      const pool = dir === 'b' ? room.events.filter((e) => e.pos <= from).reverse() : room.events.filter((e) => e.pos > from);
      const page = pool.slice(0, limit);
      const body: any = { chunk: page.map((e) => this.model.toClient(e, { withRoomId: true, token: c.token })), start: this.model.token(from), state: [] };
      const last = page[page.length - 1];
      if (last && pool.length > page.length) body.end = this.model.token(dir === 'b' ? last.pos - 1 : last.pos);
      this.reply(c, 200, body);
    });
  }

  /** Profiles. */
  private profileRoutes(): void {
    const profileOf = (userId: string): { displayname?: string; avatar_url?: string } => {
      const p = this.model.profiles.get(userId);
      if (!p) throw new MatrixHttpError(404, 'M_NOT_FOUND', 'Profile was not found');
      return p;
    };
    this.route('GET', 'profile/:userId', (c) => this.reply(c, 200, { ...profileOf(c.params.userId!) }));
    this.route('GET', 'profile/:userId/displayname', (c) => this.reply(c, 200, { displayname: profileOf(c.params.userId!).displayname ?? null }));
    this.route('GET', 'profile/:userId/avatar_url', (c) => this.reply(c, 200, { avatar_url: profileOf(c.params.userId!).avatar_url ?? null }));
    for (const field of ['displayname', 'avatar_url'] as const) {
      this.route('PUT', `profile/:userId/${field}`, (c) => {
        this.requireSelf(c.params.userId!, 'set profile');
        this.requireObjectBody(c.body);
        const p = this.model.ensureProfile(this.botUserId);
        p[field] = c.body[field];
        // Like Synapse, propagate the profile into the bot's membership in every joined room.
        for (const room of this.model.rooms.values()) {
          if (room.membership(this.botUserId) === 'join') this.appendMembership(room.roomId, this.botUserId, 'join', this.botUserId);
        }
        this.replyEmpty(c);
      });
    }
  }

  /** Ephemeral/no-op endpoints. */
  private noopRoutes(): void {
    this.route('PUT', 'rooms/:roomId/typing/:userId', (c) => {
      this.requireSelf(c.params.userId!, 'set typing state');
      this.requireJoined(c.params.roomId!);
      this.replyEmpty(c);
    });
    this.route('POST', 'rooms/:roomId/receipt/:receiptType/:eventId', (c) => {
      this.requireJoined(c.params.roomId!);
      this.replyEmpty(c);
    });
    this.route('POST', 'rooms/:roomId/read_markers', (c) => {
      this.requireJoined(c.params.roomId!);
      this.replyEmpty(c);
    });
    this.route('PUT', 'presence/:userId/status', (c) => {
      this.requireSelf(c.params.userId!, 'set presence');
      this.replyEmpty(c);
    });
    this.route('GET', 'presence/:userId/status', (c) => this.reply(c, 200, { presence: 'online', currently_active: true }));
    this.route('GET', 'directory/room/:alias', (c) => {
      const roomId = this.model.aliases.get(c.params.alias!);
      if (!roomId) throw new MatrixHttpError(404, 'M_NOT_FOUND', `Room alias ${c.params.alias} not found`);
      this.reply(c, 200, { room_id: roomId, servers: [this.serverName] });
    });
  }
}

/**
 * Start a fake homeserver on 127.0.0.1 (random port unless `opts.port`). The bot authenticates with
 * `fake.accessToken` and is `fake.botUserId`. Always `await fake.close()` when done.
 */
export async function startFakeMatrix(opts: FakeMatrixOptions = {}): Promise<FakeMatrix> {
  const fake = new FakeMatrixServer(opts);
  await fake.listen(opts.port ?? 0);
  return fake;
}
