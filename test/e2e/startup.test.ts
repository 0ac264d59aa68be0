/**
 * Start-up and process-level failure behaviour of the built bot (dist/src/main.js) as a child process: every
 * environment problem exits 2 with one line naming the variable or file and the cause (no stack, no "unexpected
 * error"); a platform that refuses the bot mid-run ends the process with 2 after the drain; a homeserver that is
 * down at start-up does not stop Discord; SIGHUP reloads the knowledge.
 */
import { createServer, type Server } from 'node:net';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord/server.js';
import { startFakeMatrix, type FakeMatrix } from '../fakes/matrix/server.js';
import { cleanEnv, runNode, spawnBot, until, type RunResult, type SpawnedBot } from '../support/spawn.js';

const dirs: string[] = [];
const bots: SpawnedBot[] = [];
function tmp(prefix = 'ksb-startup-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const b of bots.splice(0)) if (b.child.exitCode === null) b.child.kill('SIGKILL');
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Exit 2, and stderr's last line is `kernel-status-bot: …` matching `cause`, with no stack and no "unexpected". */
function expectStartupExit(r: RunResult, cause: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  const last = r.stderr.trim().split('\n').at(-1)!;
  expect(last).toMatch(/^kernel-status-bot: /);
  expect(last).toMatch(cause);
  expect(r.stderr).not.toContain('unexpected error');
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const main = (env: Record<string, string>) => runNode(['dist/src/main.js'], '', cleanEnv({ DATA_DIR: tmp(), ...env }));

describe('environment problems at start-up exit 2 with one line naming the variable or file', () => {
  it('a set but blank variable is an error naming it (DISCORD_TOKEN="", HTTP_PORT=" ")', async () => {
    expectStartupExit(await main({ DISCORD_TOKEN: '' }), /DISCORD_TOKEN: is set but blank/);
    expectStartupExit(await main({ HTTP_PORT: ' ' }), /HTTP_PORT: is set but blank/);
  });

  it('HTTP_PORT in use', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      expectStartupExit(await main({ HTTP_PORT: String(port) }), new RegExp(`HTTP_PORT: port ${port} .* is in use .*EADDRINUSE`));
    } finally {
      blocker.close();
    }
  });

  it('DATA_DIR is a file, or below a file', async () => {
    const file = join(tmp(), 'not-a-dir');
    writeFileSync(file, 'x');
    expectStartupExit(await main({ DATA_DIR: file }), /DATA_DIR \(.*not-a-dir\) is a file, not a directory/);
    expectStartupExit(await main({ DATA_DIR: join(file, 'sub') }), /DATA_DIR \(.*\) cannot be created: part of the path is a file/);
  });

  it('a corrupt digest database', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'digests.sqlite'), 'this is not an SQLite database, just some text '.repeat(200));
    expectStartupExit(
      await main({ DATA_DIR: dir }),
      /DATA_DIR \(.*\): cannot (open|prepare) the digest database digests\.sqlite: SQLITE_NOTADB: .*restore a backup/,
    );
  });

  it('npm run ask needs no writable DATA_DIR and does not open the store', async () => {
    const file = join(tmp(), 'not-a-dir');
    writeFileSync(file, 'x');
    const r = await runNode(['dist/src/cli/ask.js', '/status fs'], '', cleanEnv({ DATA_DIR: file }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Filesystems');
  });
});

describe('chat platforms against the fakes', () => {
  let discord: FakeDiscord;
  let matrix: FakeMatrix;
  beforeAll(async () => {
    discord = await startFakeDiscord();
    matrix = await startFakeMatrix();
  });
  afterAll(async () => {
    await Promise.allSettled([discord.close(), matrix.close()]);
  });
  afterEach(async () => {
    discord.failIdentify(null);
    await matrix.comeBack(); // a failed test must not leave the homeserver down for the next one
  });

  const discordEnv = () => ({ DISCORD_TOKEN: discord.token, DISCORD_API_URL: discord.apiUrl, DATA_DIR: tmp() });

  it('gateway close 4004 at login exits 2 naming DISCORD_TOKEN', async () => {
    discord.failIdentify(4004);
    expectStartupExit(await runNode(['dist/src/main.js'], '', cleanEnv(discordEnv())), /DISCORD_TOKEN was rejected by the Discord gateway \(close code 4004/);
  });

  for (const [code, cause] of [
    [4004, /DISCORD_TOKEN was rejected/],
    [4014, /intents are not enabled .* in the Developer Portal/],
  ] as const) {
    it(`gateway close ${code} mid-run: the process drains and exits 2 naming the cause`, async () => {
      const bot = spawnBot(cleanEnv(discordEnv()));
      bots.push(bot);
      await bot.waitForLog((l) => l.msg === 'connected to Discord');
      discord.closeGateway(code);
      expect(await bot.exited).toBe(2);
      const lines = bot.lines();
      expect(lines.some((l) => l.msg === 'stopped')).toBe(true); // after the usual drain
      expect(bot.stderr().trim().split('\n').at(-1)).toMatch(cause);
    });
  }

  it('Matrix down at start-up does not stop Discord: /readyz says why, Matrix joins when it is back; its outages show in /readyz and the metric', async () => {
    await matrix.goDown();
    const bot = spawnBot(cleanEnv({ ...discordEnv(), MATRIX_HOMESERVER_URL: matrix.url, MATRIX_ACCESS_TOKEN: matrix.accessToken, HTTP_PORT: '0' }));
    bots.push(bot);
    const url = await bot.httpUrl();
    await bot.waitForLog((l) => l.msg === 'connected to Discord');
    const cb = await discord.sendInteraction({ commandName: 'status', options: [{ name: 'topic', type: 3, value: 'fs' }] }).callback;
    expect(cb.body.data.embeds[0].title).toContain('Filesystems');
    const reasons = async () => ((await (await fetch(`${url}/readyz`)).json()) as { reasons?: string[] }).reasons ?? [];
    await until(
      '/readyz naming the unreachable homeserver',
      async () => (await reasons()).some((r) => /^matrix: homeserver unreachable \(ECONNREFUSED/.test(r)),
      30_000,
    );
    expect(await reasons()).toHaveLength(1);
    expect(await (await fetch(`${url}/metrics`)).text()).toContain('kbot_adapter_connected{platform="matrix"} 0');
    await matrix.comeBack();
    await until('/readyz 200 once Matrix is back', async () => (await fetch(`${url}/readyz`)).status === 200, 40_000);
    expect(await (await fetch(`${url}/metrics`)).text()).toContain('kbot_adapter_connected{platform="matrix"} 1');

    // An outage mid-run shows at once (the /sync fails) and clears once the homeserver answers again.
    await matrix.goDown();
    await until('/readyz 503 during the outage', async () => (await fetch(`${url}/readyz`)).status === 503, 30_000);
    expect(await reasons()).toEqual([expect.stringMatching(/^matrix: sync failing/)]);
    expect(await (await fetch(`${url}/metrics`)).text()).toContain('kbot_adapter_connected{platform="matrix"} 0');
    await matrix.comeBack();
    await until('/readyz 200 after the outage', async () => (await fetch(`${url}/readyz`)).status === 200, 40_000);
    bot.child.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
  }, 180_000);

  it('a rejected Matrix token still exits 2', async () => {
    expectStartupExit(
      await runNode(['dist/src/main.js'], '', cleanEnv({ ...discordEnv(), MATRIX_HOMESERVER_URL: matrix.url, MATRIX_ACCESS_TOKEN: 'syt_wrong_token_abcdef' })),
      /MATRIX_ACCESS_TOKEN was rejected/,
    );
  }, 60_000);
});

describe('signals', () => {
  it('SIGHUP reloads the knowledge (daemon convention) and the bot keeps running', async () => {
    const dir = tmp('ksb-hup-');
    cpSync('knowledge', dir, { recursive: true });
    const bot = spawnBot(cleanEnv({ KNOWLEDGE_DIR: dir, HTTP_PORT: '0', DATA_DIR: tmp() }), { stdin: 'pipe' });
    bots.push(bot);
    await bot.httpUrl();
    const file = join(dir, 'talk.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('Very little is happening in RAS', 'RAS summary after SIGHUP'));
    bot.child.kill('SIGHUP');
    await bot.waitForLog((l) => l.msg === 'knowledge reloaded' && l.signal === 'SIGHUP');
    bot.child.stdin!.write('/status ras\n');
    await until('the reloaded summary', () => bot.stdout().includes('RAS summary after SIGHUP'));
    writeFileSync(file, 'topics: [');
    bot.child.kill('SIGHUP');
    const refused = await bot.waitForLog((l) => l.msg?.startsWith('knowledge reload refused'));
    expect(refused.reason).toContain('talk.yaml');
    expect(bot.child.exitCode).toBeNull();
    bot.child.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
  });
});
