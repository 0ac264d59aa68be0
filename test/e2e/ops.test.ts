import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanEnv } from '../support/spawn.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Starts the bot in console mode with stdin held open and the HTTP listener on a random free port. */
async function startWithHttp(extra: Record<string, string> = {}) {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    env: cleanEnv({ HTTP_PORT: String(port), DATA_DIR: mkdtempSync(join(tmpdir(), 'ksb-ops-')), ...extra }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Generous: a loaded machine (two cores shared by several test runs) can take seconds to start a process.
  for (let i = 0; i < 1200; i++) {
    if (stderr.includes('http listening')) break;
    if (child.exitCode !== null) throw new Error(`bot exited early: ${stderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { child, port, exited, logs: () => stderr, out: () => stdout, url: (p: string) => `http://127.0.0.1:${port}${p}` };
}

describe('health, readiness and metrics', () => {
  it('GIVEN HTTP_PORT THEN /healthz and /readyz answer 200 and /metrics has the bot and process metrics', async () => {
    const bot = await startWithHttp();
    expect((await fetch(bot.url('/healthz'))).status).toBe(200);
    expect(await (await fetch(bot.url('/readyz'))).json()).toEqual({ status: 'ready' });
    bot.child.stdin!.write('/status fs\n/status zzqxjvvq\n');
    for (let i = 0; i < 100 && !bot.out().includes('No topic matches'); i++) await new Promise((r) => setTimeout(r, 20));
    const metrics = await (await fetch(bot.url('/metrics'))).text();
    expect(metrics).toContain('kbot_messages_total{platform="console",command="status",outcome="ok"} 1');
    expect(metrics).toContain('kbot_messages_total{platform="console",command="status",outcome="no-match"} 1');
    expect(metrics).toMatch(/kbot_reply_seconds_bucket\{le="0\.1",platform="console",command="status"\} 2/);
    expect(metrics).toMatch(/kbot_knowledge_info\{version="[0-9a-f]{12}"\} 1/);
    expect(metrics).toContain('process_resident_memory_bytes');
    expect((await fetch(bot.url('/nope'))).status).toBe(404);
    bot.child.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
  });
});

describe('graceful shutdown', () => {
  it('GIVEN SIGTERM twice in a row THEN one drain, "stopped" logged, exit 0', async () => {
    const bot = await startWithHttp();
    bot.child.kill('SIGTERM');
    bot.child.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
    const lines = bot.logs().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.msg === 'shutting down')).toHaveLength(1);
    expect(lines.at(-1)).toMatchObject({ msg: 'stopped' });
  });

  it('GIVEN SIGINT THEN exit 0 as well', async () => {
    const bot = await startWithHttp();
    bot.child.kill('SIGINT');
    expect(await bot.exited).toBe(0);
  });
});

describe('knowledge hot reload', () => {
  it('GIVEN a valid edit THEN it is swapped in; GIVEN a broken edit THEN the old knowledge stays and the error names file and path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ksb-reload-'));
    cpSync('knowledge', dir, { recursive: true });
    const file = join(dir, 'talk.yaml');
    const bot = await startWithHttp({ KNOWLEDGE_DIR: dir, KNOWLEDGE_WATCH: 'true' });
    const ask = async (line: string, expectText: string) => {
      bot.child.stdin!.write(`${line}\n`);
      for (let i = 0; i < 200 && !bot.out().includes(expectText); i++) await new Promise((r) => setTimeout(r, 25));
      return bot.out().includes(expectText);
    };
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('Very little is happening in RAS', 'RAS summary edited live'));
    for (let i = 0; i < 200 && !bot.logs().includes('knowledge reloaded'); i++) await new Promise((r) => setTimeout(r, 25));
    expect(await ask('/status ras', 'RAS summary edited live')).toBe(true);

    writeFileSync(file, original.replace('verdict: concern', 'verdict: sideways'));
    for (let i = 0; i < 200 && !bot.logs().includes('knowledge change rejected'); i++) await new Promise((r) => setTimeout(r, 25));
    const rejected = bot.logs().split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => String(l.msg).startsWith('knowledge change rejected'));
    expect(rejected.reason).toMatch(/talk\.yaml at topics\.2\.verdict: /);
    expect(await ask('/status x86', 'x86 [concern]')).toBe(true);
    expect(await ask('/status ras', 'RAS summary edited live')).toBe(true);
    bot.child.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
  });
});
