/**
 * The shim over the wasm crypto binding (src/vendor/matrix-sdk-crypto-nodejs) reuses a "nothing to share"
 * answer of shareRoomKey until the room's Megolm session is due for rotation. These tests pin the wasm
 * behaviour that relies on, and check the reuse against the real machine on the real durable store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Wasm from '@matrix-org/matrix-sdk-crypto-wasm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PersistentIndexedDb } from '../../src/adapters/matrix/crypto-store.js';
import { until } from '../support/poll.js';

const require = createRequire(import.meta.url);
const wasm = require('@matrix-org/matrix-sdk-crypto-wasm') as typeof Wasm;
const shim = require('@matrix-org/matrix-sdk-crypto-nodejs');

const ME = '@bot:fake.local';
const ROOM = '!room:fake.local';
let dir: string;
let store: PersistentIndexedDb;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'crypto-shim-'));
  store = await PersistentIndexedDb.open(join(dir, 'olm-machine.sqlite'));
  store.install();
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const settings = (messages: number, periodMicros = 604_800_000n) => {
  const s = new wasm.EncryptionSettings();
  s.rotationPeriodMessages = BigInt(messages);
  s.rotationPeriod = periodMicros;
  return s;
};
const sessionOf = (encrypted: string) => JSON.parse(encrypted).session_id as string;

describe('crypto shim: reuse of "nothing to share"', () => {
  it('the wasm machine keeps a room key past a rotation period under an hour (it enforces at least one hour, as the shim assumes)', async () => {
    const m = await wasm.OlmMachine.initialize(new wasm.UserId(ME), new wasm.DeviceId('D'));
    const room = new wasm.RoomId(ROOM);
    const s = settings(100, 1n); // one microsecond
    await m.shareRoomKey(room, [new wasm.UserId(ME)], s);
    const first = sessionOf(await m.encryptRoomEvent(room, 'm.room.message', '{"body":"1"}'));
    const second = Math.floor(Date.now() / 1000) + 1;
    await until('the next whole second', () => Date.now() / 1000 >= second + 0.05, { timeoutMs: 5000 });
    await m.shareRoomKey(room, [new wasm.UserId(ME)], s);
    expect(sessionOf(await m.encryptRoomEvent(room, 'm.room.message', '{"body":"2"}'))).toBe(first);
    m.close();
  });

  it('GIVEN sends prepared as matrix-bot-sdk does WHEN nothing changes THEN the machine is asked about sharing less often and rotates exactly at the message limit', async () => {
    const machine = await shim.OlmMachine.initialize(new wasm.UserId(ME), new wasm.DeviceId('D'), join(dir, 'store'));
    let asked = 0;
    const inner = machine.inner.shareRoomKey.bind(machine.inner);
    machine.inner.shareRoomKey = (...args: unknown[]) => {
      asked++;
      return inner(...args);
    };
    const sessions: string[] = [];
    for (let i = 0; i < 10; i++) {
      const room = new wasm.RoomId(ROOM);
      expect(await machine.shareRoomKey(room, [new wasm.UserId(ME)], settings(4))).toEqual([]);
      sessions.push(sessionOf(await machine.encryptRoomEvent(room, 'm.room.message', JSON.stringify({ body: String(i) }))));
    }
    const runs: number[] = [];
    for (let i = 0; i < sessions.length; i++) {
      if (i && sessions[i] === sessions[i - 1]) runs[runs.length - 1]!++;
      else runs.push(1);
    }
    expect(runs).toEqual([4, 4, 2]);
    expect(asked).toBe(5); // sends 1, 4, 5, 8 and 9: one message of margin before each rotation
    machine.close();
  });
});
