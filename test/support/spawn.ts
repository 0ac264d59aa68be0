import { spawn, type ChildProcess } from 'node:child_process';
import { until as poll } from './poll.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Env for a child bot: no chat credentials from the outer environment, quiet logs unless asked. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(DISCORD_|MATRIX_|HTTP_|DIGEST_|KNOWLEDGE_|DATA_DIR|DATABASE_URL|REPLICA_)/.test(k)) delete env[k];
  return { ...env, LOG_LEVEL: 'info', KNOWLEDGE_WATCH: 'false', ...extra };
}

/** Runs `node <args>` from the repository root with `input` on stdin; resolves when it exits. */
export function runNode(args: string[], input: string, env: NodeJS.ProcessEnv = cleanEnv()): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** The built bot as a child process: its output, its exit, and polling helpers. */
export interface SpawnedBot {
  child: ChildProcess;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
  logs(): string;
  out(): string;
  stderr(): string;
  stdout(): string;
  /** Parsed JSON log lines so far (non-JSON lines skipped). */
  lines(): Record<string, any>[];
  /** Resolves with the first log line matching `pred`; rejects when the bot exits first or after `timeoutMs`. */
  waitForLog(pred: (l: Record<string, any>) => boolean, timeoutMs?: number): Promise<Record<string, any>>;
  /** The HTTP listener's base URL, once it listens (HTTP_PORT=0 picks a free port). */
  httpUrl(timeoutMs?: number): Promise<string>;
}

/**
 * Spawns the built bot with `env` (see {@link cleanEnv}): `node [nodeFlags] dist/src/main.js`, or `node <args>`
 * when given an argument list (stdin then stays open: the console adapter keeps running).
 */
export function spawnBot(env: NodeJS.ProcessEnv, opts: string[] | { nodeFlags?: string[]; stdin?: 'pipe' | 'ignore' } = {}): SpawnedBot {
  const args = Array.isArray(opts) ? opts : [...(opts.nodeFlags ?? []), 'dist/src/main.js'];
  const stdin = Array.isArray(opts) ? 'pipe' : (opts.stdin ?? 'ignore');
  const child = spawn(process.execPath, args, { env, stdio: [stdin, 'pipe', 'pipe'] });
  let logs = '';
  let out = '';
  child.stderr!.on('data', (d) => (logs += d));
  child.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = () =>
    logs.split('\n').flatMap((l) => {
      try {
        return l.startsWith('{') ? [JSON.parse(l) as Record<string, any>] : [];
      } catch {
        return [];
      }
    });
  const waitForLog = async (pred: (l: Record<string, any>) => boolean, timeoutMs = 20_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = lines().find(pred);
      if (hit) return hit;
      if (child.exitCode !== null || Date.now() > end)
        throw new Error(`log line not seen (exit ${child.exitCode}); stderr tail:\n${logs.split('\n').slice(-12).join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const httpUrl = async (timeoutMs = 20_000) => {
    const l = await waitForLog((x) => x.msg?.startsWith('http listening'), timeoutMs);
    return `http://127.0.0.1:${l.address.port}`;
  };
  return { child, exited, logs: () => logs, out: () => out, stderr: () => logs, stdout: () => out, lines, waitForLog, httpUrl };
}

/** Polls `cond` every 20 ms until it holds; throws after `timeoutMs`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  await poll(what, cond, { timeoutMs, everyMs: 20 });
}

/**
 * The base URL of a bot started with `HTTP_PORT=0` (the system picks a free port) and LOG_LEVEL info:
 * waits for its "http listening" log line and reads the bound address from it.
 */
export async function httpBaseUrl(bot: SpawnedBot): Promise<string> {
  let port: number | undefined;
  await poll(
    'the bot to listen on HTTP',
    () => {
      if (bot.child.exitCode !== null) throw new Error(`bot exited early: ${bot.logs()}`);
      const line = bot
        .logs()
        .split('\n')
        .find((l) => l.includes('"http listening'));
      port = line ? (JSON.parse(line) as { address: { port: number } }).address.port : undefined;
      return port !== undefined;
    },
    { timeoutMs: 30_000, context: bot.logs },
  ); // generous: a loaded machine can take seconds to start a process
  return `http://127.0.0.1:${port}`;
}
