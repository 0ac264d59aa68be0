import { spawn } from 'node:child_process';

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
