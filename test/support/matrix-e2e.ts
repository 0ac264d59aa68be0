/**
 * The set-up of the Matrix end-to-end tests (test/e2e/matrix*.test.ts): a fresh fake homeserver per test, the
 * real adapter started on it (makeMatrixBot), test users with real devices, temporary directories, and the
 * clean-up after each test, which also fails a test whose bot logged a listener failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect } from 'vitest';
import { quietMatrixSdkLogs } from '../fakes/matrix/logging.js';
import { startFakeMatrix, type FakeMatrix, type FakeMatrixOptions, type SentEvent } from '../fakes/matrix/server.js';
import { inReplyTo, makeMatrixBot, type MatrixBot, type MatrixBotOptions } from './matrix-bot.js';
import { TestDevice } from './matrix-device.js';

export interface MatrixE2e {
  /** This test's fake homeserver. */
  readonly fake: FakeMatrix;
  /** Replaces this test's fake homeserver by one with other options (the old one is closed). */
  restartFake(o?: FakeMatrixOptions): Promise<FakeMatrix>;
  /** A temporary directory, removed after the test. */
  tmpDir(): string;
  /** Builds a bot (closed after the test) without starting it. */
  makeBot(o?: Partial<MatrixBotOptions>): Promise<MatrixBot>;
  /** Builds and starts a bot; resolves once its sync loop is live (a /sync with `since` has arrived). */
  startBot(o?: Partial<MatrixBotOptions>): Promise<MatrixBot>;
  /** A test user with a real device (closed after the test). */
  device(userId: string): Promise<TestDevice>;
  /** Keeps `d` to be closed after the test. */
  keep(d: TestDevice): TestDevice;
  /** The bot's rich reply to `eventId`. */
  replyTo(eventId: string): Promise<SentEvent>;
}

/**
 * Registers the per-test set-up and clean-up (call at the top of a test file). `waitMs` bounds every wait for
 * the bot (generous: the machine may be loaded).
 */
export function matrixE2e(o: { tmpPrefix: string; waitMs: number }): MatrixE2e {
  let fake: FakeMatrix | undefined;
  let bots: MatrixBot[] = [];
  let devices: TestDevice[] = [];
  let dirs: string[] = [];
  const options: FakeMatrixOptions = { timelineLimit: 50 }; // generous: tests that pre-load rooms must not lose events to `limited: true`

  beforeEach(async () => {
    quietMatrixSdkLogs();
    fake = await startFakeMatrix(options);
    bots = [];
    devices = [];
    dirs = [];
  });

  afterEach(async () => {
    for (const b of bots) await b.close();
    for (const d of devices) d.close();
    await fake?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    // A listener that threw is a bug even when the visible behaviour looked right.
    const failures = bots.flatMap((b) => b.adapterLogs.filter((l) => l.msg === 'matrix listener failed'));
    expect(failures).toEqual([]);
  });

  const e2e: MatrixE2e = {
    get fake() {
      if (!fake) throw new Error('matrixE2e: the fake homeserver exists only inside a test');
      return fake;
    },
    async restartFake(more = {}) {
      await fake?.close();
      fake = await startFakeMatrix({ ...options, ...more });
      return fake;
    },
    tmpDir() {
      const d = mkdtempSync(join(tmpdir(), o.tmpPrefix));
      dirs.push(d);
      return d;
    },
    async makeBot(opts = {}) {
      const b = await makeMatrixBot(e2e.fake, { dataDir: opts.dataDir ?? e2e.tmpDir(), ...opts });
      bots.push(b);
      return b;
    },
    async startBot(opts = {}) {
      const syncs = e2e.fake.incrementalSyncs;
      const b = await e2e.makeBot(opts);
      await b.adapter.start();
      await e2e.fake.waitForSync(syncs + 1, o.waitMs);
      return b;
    },
    async device(userId) {
      return e2e.keep(await TestDevice.create(e2e.fake, userId));
    },
    keep(d) {
      devices.push(d);
      return d;
    },
    replyTo(eventId) {
      return e2e.fake.waitForSent((e) => inReplyTo(e) === eventId, o.waitMs);
    },
  };
  return e2e;
}
