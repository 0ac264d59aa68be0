import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../support/poll.js';
import { cleanEnv, httpBaseUrl, spawnBot } from '../support/spawn.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Starts the bot in console mode with stdin held open and the HTTP listener on a port the system picks. */
async function startWithHttp(extra: Record<string, string> = {}) {
  const bot = spawnBot(cleanEnv({ HTTP_PORT: '0', DATA_DIR: mkdtempSync(join(tmpdir(), 'ksb-ops-')), ...extra }), { stdin: 'pipe' });
  children.push(bot.child);
  const base = await httpBaseUrl(bot);
  return { ...bot, url: (p: string) => `${base}${p}` };
}

describe('health, readiness and metrics', () => {
  it('GIVEN HTTP_PORT THEN /healthz and /readyz answer 200 and /metrics has the bot and process metrics', async () => {
    const bot = await startWithHttp();
    expect((await fetch(bot.url('/healthz'))).status).toBe(200);
    expect(await (await fetch(bot.url('/readyz'))).json()).toEqual({ status: 'ready' });
    bot.child.stdin!.write('/status fs\n/status zzqxjvvq\n');
    await until('both console answers', () => bot.out().includes('No topic matches'));
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
    const lines = bot
      .logs()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
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
      await until(`"${expectText}" on stdout`, () => bot.out().includes(expectText), { context: bot.out });
      return true;
    };
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('Very little is happening in RAS', 'RAS summary edited live'));
    await until('the reload', () => bot.logs().includes('knowledge reloaded'), { context: bot.logs });
    expect(await ask('/status ras', 'RAS summary edited live')).toBe(true);

    writeFileSync(file, original.replace('verdict: concern', 'verdict: sideways'));
    await until('the rejection', () => bot.logs().includes('knowledge change rejected'), { context: bot.logs });
    const rejected = bot
      .logs()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((l) => String(l.msg).startsWith('knowledge change rejected'));
    expect(rejected.reason).toMatch(/talk\.yaml at topics\.2\.verdict: /);
    expect(await ask('/status x86', 'x86 [concern]')).toBe(true);
    expect(await ask('/status ras', 'RAS summary edited live')).toBe(true);
    bot.child.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
  });
});
