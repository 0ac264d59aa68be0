import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, runNode } from '../support/spawn.js';

const MAIN = 'dist/src/main.js';
const ASK = 'dist/src/cli/ask.js';

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error('run `npm run build` first (npm test does it)');
});

describe('console adapter, spawned process with piped stdin', () => {
  it('GIVEN several lines THEN each is answered in order and the process exits 0 at end of input', async () => {
    const r = await runNode([MAIN], '/status fs\n\nwhat does the talk say about btrfs?\n/status zzqxjvvq\n!topics\n');
    expect(r.code).toBe(0);
    const fs = r.stdout.indexOf('Filesystems [concern]');
    const btrfs = r.stdout.indexOf('“I am hoping that btrfs will save us.');
    const none = r.stdout.indexOf('No topic matches “zzqxjvvq”.');
    const topics = r.stdout.indexOf('Topics (11)');
    expect(fs).toBeGreaterThanOrEqual(0);
    expect(btrfs).toBeGreaterThan(fs);
    expect(none).toBeGreaterThan(btrfs);
    expect(topics).toBeGreaterThan(none);
    // stdout holds replies only; logs are JSON lines on stderr, one per handled message
    expect(r.stdout).not.toContain('"level"');
    const handled = r.stderr
      .split('\n')
      .filter((l) => l.includes('"msg":"handled"'))
      .map((l) => JSON.parse(l));
    expect(handled.map((h) => [h.command, h.outcome])).toEqual([
      ['status', 'ok'],
      ['ask', 'ok'],
      ['status', 'no-match'],
      ['topics', 'ok'],
    ]);
  });

  it('GIVEN piped stdin and FORCE_COLOR THEN the same bytes as without: plain text, no escape codes', async () => {
    const input = '/status fs\n/status\n!topics\nwhat about btrfs?\n';
    const plain = await runNode([MAIN], input);
    const forced = await runNode([MAIN], input, cleanEnv({ FORCE_COLOR: '3', TERM: 'xterm-256color' }));
    expect(forced.code).toBe(0);
    expect(forced.stdout).toBe(plain.stdout);
    expect(forced.stdout).not.toContain('\x1b');
    expect(forced.stdout).toContain('Filesystems [concern]');
  });

  it('GIVEN a broken knowledge directory THEN start-up stops with file, path and reason, exit 2', async () => {
    const r = await runNode([MAIN], '', cleanEnv({ KNOWLEDGE_DIR: 'test/fixtures/broken-knowledge' }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/broken-knowledge\/talk\.yaml at topics\.0\.verdict: /);
    expect(r.stdout).toBe('');
  });

  it('GIVEN an invalid variable THEN start-up names it, exit 2, and never prints its value', async () => {
    const r = await runNode([MAIN], '', cleanEnv({ RATE_LIMIT_BURST: 'lots', MATRIX_ACCESS_TOKEN: 'syt_secret_value_123' }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('RATE_LIMIT_BURST');
    expect(r.stderr).not.toContain('syt_secret_value_123');
    const r2 = await runNode([MAIN], '', cleanEnv({ MATRIX_ACCESS_TOKEN: 'syt_secret_value_123' }));
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('MATRIX_HOMESERVER_URL: required when MATRIX_ACCESS_TOKEN is set');
    expect(r2.stderr).not.toContain('syt_secret_value_123');
  });
});

describe('one-shot CLI (npm run ask)', () => {
  it('GIVEN a message THEN the text answer, exit 0', async () => {
    const r = await runNode([ASK, '/status', 'kvm'], '');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Hardware virtualisation [good]');
  });

  it('GIVEN --json THEN the reply model as JSON', async () => {
    const r = await runNode([ASK, '--json', 'who maintains x86?'], '');
    expect(r.code).toBe(0);
    const reply = JSON.parse(r.stdout);
    expect(reply).toMatchObject({ kind: 'answer', title: 'x86', verdict: 'concern' });
    expect(reply.points[0]).toMatchObject({ page: 8, topicId: 'x86', text: expect.stringContaining('Ingo Molnar') });
  });

  it('GIVEN no message THEN usage on stderr, exit 2', async () => {
    const r = await runNode([ASK], '');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage: npm run ask');
  });
});
