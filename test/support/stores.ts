/**
 * Set-up shared by the store tests: one PostgreSQL server (see postgres.ts) and one temp directory for SQLite
 * files per test file, made before its tests and removed after, and fresh, empty stores of either kind on them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { DigestStore } from '../../src/digest/store.js';
import { PgDigestStore } from '../../src/store/pg-store.js';
import { SqliteDigestStore } from '../../src/store/sqlite-store.js';
import { type SharedPostgres, sharedPostgres } from './postgres.js';

export type StoreKind = 'sqlite' | 'postgres';

/**
 * Opens a handle on one store: a replica named `holder` whose claims are leased for `leaseMs` (PostgreSQL), or
 * the same file opened again (SQLite, one process: both are ignored).
 */
export type OpenStore = (holder: string, leaseMs?: number) => Promise<DigestStore>;

export interface StoreTestbed {
  postgres: SharedPostgres;
  /** A path in the file's temp directory. */
  path(name: string): string;
  /** An opener of one new, empty store of `kind`; open it twice for two processes sharing it (or a restart). */
  fresh(kind: StoreKind): Promise<OpenStore>;
}

/** The store set-up for a test file; names its databases and files after `prefix`. */
export function storeTestbed(prefix: string): StoreTestbed {
  const postgres = sharedPostgres(prefix);
  let dir: string | undefined;
  let stores = 0;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), `ksb-${prefix}-`));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const path = (name: string) => join(dir!, name);
  return {
    postgres,
    path,
    async fresh(kind) {
      if (kind === 'sqlite') {
        const file = path(`s${++stores}.sqlite`);
        return async () => new SqliteDigestStore(file);
      }
      const url = await postgres.database();
      return (holder, leaseMs = 60_000) => PgDigestStore.open({ url, holder, claimLeaseMs: leaseMs });
    },
  };
}
