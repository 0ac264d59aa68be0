/**
 * A real PostgreSQL server for tests: Debian's postgresql-15 binaries (`.ci/run` installs the package when it
 * is missing), a fresh cluster in a temp dir on a free loopback port, stopped and deleted by `stop()`.
 * initdb refuses to run as root, so as root the cluster belongs to the `postgres` user the package creates.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { PgDigestStore } from '../../src/store/pg-store.js';

const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface TestPostgres {
  /** `postgres://…` of the server's `postgres` database. */
  url: string;
  port: number;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Runs a PostgreSQL binary, as the `postgres` user when we are root. */
function asOwner(cmd: string, args: string[]): [string, string[]] {
  const root = process.getuid?.() === 0;
  // setpriv execs the binary itself (no parent in between), so signals reach the server.
  return root ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', join(BIN, cmd), ...args]] : [join(BIN, cmd), args];
}

/** Starts a throw-away PostgreSQL server; resolves once it accepts connections. */
export async function startPostgres(): Promise<TestPostgres> {
  if (!existsSync(join(BIN, 'initdb'))) throw new Error(`PostgreSQL 15 binaries not found in ${BIN}: apt-get install postgresql-15 (as .ci/run does)`);
  const dir = mkdtempSync(join(tmpdir(), 'ksb-pg-'));
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  const [initCmd, initArgs] = asOwner('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  execFileSync(initCmd, initArgs, { stdio: 'pipe' });
  const port = await freePort();
  const [cmd, args] = asOwner('postgres', [
    '-D',
    data,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `unix_socket_directories=${dir}`,
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=200',
  ]);
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const end = Date.now() + 30_000;
  for (;;) {
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.end();
      break;
    } catch {
      await c.end().catch(() => undefined);
      if (child.exitCode !== null || Date.now() > end) {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`PostgreSQL did not start:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    port,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await c.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGINT'); // fast shutdown
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One PostgreSQL server for a test file: its URL, fresh empty databases on it, and replica stores on a fresh database. */
export interface SharedPostgres {
  /** `postgres://…` of the server's `postgres` database. */
  url(): string;
  /** A fresh empty database (named after the prefix); its URL. */
  database(): Promise<string>;
  /** n stores on a fresh database, standing for n replicas sharing it. */
  replicas(n: number): Promise<PgDigestStore[]>;
}

/** One PostgreSQL server for a test file, started before its tests and stopped after. */
export function sharedPostgres(prefix: string): SharedPostgres {
  let server: TestPostgres | undefined;
  let dbs = 0;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  const database = () => server!.createDatabase(`${prefix}${++dbs}`);
  return {
    url: () => server!.url,
    database,
    async replicas(n) {
      const url = await database();
      const stores: PgDigestStore[] = [];
      for (let i = 0; i < n; i++) stores.push(await PgDigestStore.open({ url, holder: `r${i}`, claimLeaseMs: 60_000 }));
      return stores;
    },
  };
}
