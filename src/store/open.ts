import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { DigestStore } from '../digest/store.js';
import { ensureDataDir, openInDataDir } from '../ops/data-dir.js';
import { SqliteDigestStore } from './sqlite-store.js';

/** This process's name in claims and leases: host, pid and a random part (a restarted process is a new replica). */
export function newReplicaId(): string {
  return `${hostname().slice(0, 40)}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * PostgreSQL when DATABASE_URL is set (several replicas), else the SQLite file in DATA_DIR (one process); an
 * unusable DATA_DIR or database file is a StartupError naming it.
 */
export async function openStore(config: Config, replicaId: string): Promise<DigestStore> {
  if (!config.DATABASE_URL) {
    ensureDataDir(config.DATA_DIR);
    const file = join(config.DATA_DIR, 'digests.sqlite');
    return openInDataDir(file, 'digest database', () => new SqliteDigestStore(file));
  }
  const { PgDigestStore } = await import('./pg-store.js'); // pg is loaded only in this mode
  return PgDigestStore.open({ url: config.DATABASE_URL, holder: replicaId, claimLeaseMs: config.REPLICA_LEASE_SECONDS * 1000 });
}
