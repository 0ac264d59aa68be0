/**
 * Smoke test of the fake Matrix homeserver against the REAL matrix-bot-sdk MatrixClient:
 * if these pass, the fake speaks what the SDK expects (start-up calls, sync long poll, send, join, errors).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MatrixClient, MatrixError, SimpleFsStorageProvider } from 'matrix-bot-sdk';
import { startFakeMatrix, type FakeMatrix } from '../fakes/matrix/server.js';
import { startEchoBot } from '../fakes/matrix/echo-bot.js';
import { quietMatrixSdkLogs } from '../fakes/matrix/logging.js';

const ALICE = '@alice:fake.local';

let fake: FakeMatrix;
let dir: string;
let clients: MatrixClient[];

/** A plain client (no handlers) with file storage in the test's tmp dir. */
function newClient(token = fake.accessToken, name = 'client'): MatrixClient {
  const client = new MatrixClient(fake.url, token, new SimpleFsStorageProvider(join(dir, `${name}.json`)));
  clients.push(client);
  return client;
}

/** Await a promise expected to reject, returning the rejection. */
async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the promise to reject');
}

beforeEach(async () => {
  quietMatrixSdkLogs();
  fake = await startFakeMatrix();
  dir = mkdtempSync(join(tmpdir(), 'fake-matrix-'));
  clients = [];
});

afterEach(async () => {
  for (const c of clients) c.stop();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('fake Matrix homeserver with the real matrix-bot-sdk', () => {
  it('echo bot answers a user message with a pong notice', async () => {
    const roomId = fake.createRoom({ name: 'kernel' });
    const bot = await startEchoBot(fake.url, fake.accessToken, dir);
    clients.push(bot.client);
    await fake.waitForSync();

    const asked = fake.sendText(roomId, ALICE, 'ping');
    const pong = await fake.waitForSent((e) => e.roomId === roomId && e.content?.body === 'pong');
    expect(pong.type).toBe('m.room.message');
    expect(pong.content).toEqual({ msgtype: 'm.notice', body: 'pong' });
    expect(asked).toMatch(/^\$/);
    // The bot's own event is part of the room timeline (and therefore of later syncs).
    expect(fake.timeline(roomId).some((e) => e.event_id === pong.eventId && e.sender === fake.botUserId)).toBe(true);

    // What the SDK asks for at start-up.
    const paths = fake.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths).toContain(`GET /_matrix/client/v3/user/${fake.botUserId}/account_data/m.direct`);
    expect(paths).toContain('GET /_matrix/client/v3/joined_rooms');
    expect(paths).toContain('GET /_matrix/client/v3/account/whoami');
    expect(fake.unrecognized).toEqual([]);
    await bot.stop();
  });

  it('PUT /send is idempotent per txnId', async () => {
    const roomId = fake.createRoom();
    const client = newClient();
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/txn-1`;
    const content = { msgtype: 'm.text', body: 'once' };
    const a = await client.doRequest('PUT', path, null, content);
    const b = await client.doRequest('PUT', path, null, content);
    expect(a.event_id).toMatch(/^\$/);
    expect(b.event_id).toBe(a.event_id);
    expect(fake.sent).toHaveLength(1);
    expect(fake.sent[0]).toMatchObject({ roomId, txnId: 'txn-1', eventId: a.event_id });
    expect(fake.timeline(roomId).filter((e) => e.content?.body === 'once')).toHaveLength(1);
  });

  it('delivers invites, joins, and injected join failures', async () => {
    const client = newClient();
    const invited = new Promise<[string, any]>((resolve) => client.on('room.invite', (roomId: string, ev: any) => resolve([roomId, ev])));
    const joined = new Promise<string>((resolve) => client.on('room.join', (roomId: string) => resolve(roomId)));
    await client.start();
    await fake.waitForSync();

    const roomId = fake.invite(ALICE);
    const [invRoom, ev] = await invited;
    expect(invRoom).toBe(roomId);
    expect(ev).toMatchObject({ type: 'm.room.member', sender: ALICE, state_key: fake.botUserId, content: { membership: 'invite' } });
    expect(await client.joinRoom(roomId)).toBe(roomId);
    expect(fake.isJoined(roomId)).toBe(true);
    expect(await joined).toBe(roomId);
    expect(await client.getJoinedRooms()).toContain(roomId);

    const closed = fake.createRoom({ joined: false });
    fake.failJoins(closed, 403);
    const err = await rejection(client.joinRoom(closed));
    expect(err).toBeInstanceOf(MatrixError);
    expect(err.errcode).toBe('M_FORBIDDEN');
    expect(err.statusCode).toBe(403);
    expect(fake.isJoined(closed)).toBe(false);
    // The failure was for one attempt only; the room is public, so the retry works.
    expect(await client.joinRoom(closed)).toBe(closed);
  });

  it('injected 429 on send carries retry_after_ms', async () => {
    const roomId = fake.createRoom();
    fake.failSends(roomId, 429, 2, 120);

    const raw = await fetch(`${fake.url}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/raw-1`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${fake.accessToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ msgtype: 'm.text', body: 'hi' }),
    });
    expect(raw.status).toBe(429);
    expect(await raw.json()).toEqual({ errcode: 'M_LIMIT_EXCEEDED', error: expect.any(String), retry_after_ms: 120 });

    const client = newClient();
    const err = await rejection(client.sendMessage(roomId, { msgtype: 'm.text', body: 'hi' }));
    expect(err).toBeInstanceOf(MatrixError);
    expect(err.errcode).toBe('M_LIMIT_EXCEEDED');
    expect(err.retryAfterMs).toBe(120);
    expect(err.statusCode).toBe(429);
    expect(fake.sent).toHaveLength(0);
    // Failures exhausted: the next send goes through (the SDK itself never retries).
    await client.sendMessage(roomId, { msgtype: 'm.text', body: 'hi' });
    expect(fake.sent).toHaveLength(1);
  });

  it('rejects a wrong access token with M_UNKNOWN_TOKEN', async () => {
    const client = newClient('not-the-token', 'wrong');
    const err = await rejection(client.getUserId());
    expect(err).toBeInstanceOf(MatrixError);
    expect(err.errcode).toBe('M_UNKNOWN_TOKEN');
    expect(err.statusCode).toBe(401);
  });

  it('long-polls /sync while idle', async () => {
    fake.createRoom();
    const client = newClient();
    await client.start();
    await fake.waitForSync();
    const countSyncs = (): number => fake.requests.filter((r) => r.path.endsWith('/sync')).length;
    const before = countSyncs();
    await new Promise((r) => setTimeout(r, 1000));
    expect(countSyncs() - before).toBeLessThan(5);
    // The held poll still answers promptly when something happens.
    const got = new Promise<string>((resolve) => client.on('room.message', (_r: string, ev: any) => resolve(ev.content.body)));
    const roomId = fake.createRoom({ members: [ALICE] });
    fake.sendText(roomId, ALICE, 'wake up');
    expect(await got).toBe('wake up');
  });

  it('keeps state across a seamless restart on the same port', async () => {
    const roomId = fake.createRoom();
    const bot = await startEchoBot(fake.url, fake.accessToken, dir);
    clients.push(bot.client);
    await fake.waitForSync();
    const port = fake.port;
    const syncs = fake.incrementalSyncs;
    await fake.restart();
    expect(fake.port).toBe(port);
    await fake.waitForSync(syncs + 1);
    fake.sendText(roomId, ALICE, 'still there?');
    await fake.waitForSent((e) => e.roomId === roomId && e.content?.body === 'pong');
    expect(fake.isJoined(roomId)).toBe(true);
    await bot.stop();
  });
});
