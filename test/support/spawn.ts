import { spawn, type ChildProcess } from 'node:child_process';
import { until } from './poll.js';

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

/** The built bot as a child process, with its output collected. */
export interface SpawnedBot {
  child: ChildProcess;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
  logs(): string;
  out(): string;
}

/** Spawns the built bot (`node [nodeFlags] dist/src/main.js`) with `env` (see {@link cleanEnv}); stdin stays open when `stdin: 'pipe'`. */
export function spawnBot(env: NodeJS.ProcessEnv, opts: { nodeFlags?: string[]; stdin?: 'pipe' | 'ignore' } = {}): SpawnedBot {
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), 'dist/src/main.js'], { env, stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] });
  let logs = '';
  let out = '';
  child.stderr!.on('data', (d) => (logs += d));
  child.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, logs: () => logs, out: () => out };
}

/**
 * The base URL of a bot started with `HTTP_PORT=0` (the system picks a free port) and LOG_LEVEL info:
 * waits for its "http listening" log line and reads the bound address from it.
 */
export async function httpBaseUrl(bot: SpawnedBot): Promise<string> {
  let port: number | undefined;
  await until('the bot to listen on HTTP', () => {
    if (bot.child.exitCode !== null) throw new Error(`bot exited early: ${bot.logs()}`);
    const line = bot.logs().split('\n').find((l) => l.includes('"http listening'));
    port = line ? (JSON.parse(line) as { address: { port: number } }).address.port : undefined;
    return port !== undefined;
  }, { timeoutMs: 30_000, context: bot.logs }); // generous: a loaded machine can take seconds to start a process
  return `http://127.0.0.1:${port}`;
}
