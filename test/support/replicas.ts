/**
 * Bot replicas for the multi-replica tests and benches: the built bot (dist/src/main.js) as child processes on
 * one PostgreSQL database, with their JSON logs parsed (replica id, HTTP address, roles taken).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cleanEnv } from './spawn.js';

export interface Replica {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** JSON log lines so far. */
  lines: Record<string, unknown>[];
  logs(): string;
  /** The replica id it logged at start-up ('' until then). */
  id(): string;
  /** The HTTP listener's base URL ('' until it listens). */
  url(): string;
  /** Roles this replica has taken and not given up (from its log). */
  roles(): string[];
}

/** Starts one replica with `env` (on top of a clean environment). */
export function startReplica(env: Record<string, string>, nodeFlags: string[] = []): Replica {
  const child = spawn(process.execPath, [...nodeFlags, 'dist/src/main.js'], {
    env: cleanEnv({ LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let raw = '';
  let partial = '';
  child.stderr!.on('data', (d: Buffer) => {
    raw += d;
    const parts = (partial + String(d)).split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as Record<string, unknown>);
      } catch {
        // not a JSON line
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const find = (msg: string) => lines.find((l) => l.msg === msg);
  return {
    child,
    exited,
    lines,
    logs: () => raw,
    id: () => String(find('replica on the shared PostgreSQL store')?.replica ?? ''),
    url: () => {
      const a = find('http listening (/healthz, /readyz, /metrics)')?.address as { port: number } | undefined;
      return a ? `http://127.0.0.1:${a.port}` : '';
    },
    roles: () => {
      const held = new Set<string>();
      for (const l of lines) {
        if (l.msg === 'role taken') held.add(String(l.role));
        if (l.msg === 'role given up') held.delete(String(l.role));
      }
      return [...held];
    },
  };
}

/** Polls `cond` every 10 ms until it holds; the error names `what` and shows the replicas' log tails. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, replicas: Replica[] = []): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) {
      const tails = replicas.map((r, i) => `--- replica ${i}:\n${r.logs().split('\n').slice(-8).join('\n')}`).join('\n');
      throw new Error(`timed out waiting for ${what}\n${tails}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
