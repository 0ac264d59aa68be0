/**
 * The TCP port a child process listens on, read from Linux's /proc: for a bot started with `HTTP_PORT=0` whose
 * log level hides the "http listening" line (the benchmarks run the bot at `warn`, so that per-message log
 * lines do not weigh on what they measure). With an info-level log, read the line instead (spawn.ts, httpUrl).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { until } from './poll.js';

const LISTEN = '0A';

/** The ports `pid` listens on (TCP, IPv4 and IPv6), found by matching its sockets' inodes in /proc/<pid>/net/tcp*. */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue; // no IPv6
    }
    // "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …"
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === LISTEN && inodes.has(f[9]!)) ports.push(Number.parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/** Waits until `pid` listens on exactly one TCP port and returns it (throws when the process has exited or after `timeoutMs`). */
export async function waitForListeningPort(pid: number, timeoutMs = 60_000, alive: () => boolean = () => true): Promise<number> {
  let port: number | undefined;
  await until(
    `process ${pid} to listen`,
    () => {
      if (!alive()) throw new Error(`process ${pid} exited before it listened`);
      const ports = listeningPorts(pid);
      if (ports.length > 1) throw new Error(`process ${pid} listens on several ports: ${ports.join(', ')}`);
      port = ports[0];
      return port !== undefined;
    },
    { timeoutMs, everyMs: 50 },
  );
  return port!;
}
