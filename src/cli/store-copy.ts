import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { fatal } from '../main-errors.js';
import { copySqliteToPg } from '../store/copy.js';
import { newReplicaId } from '../store/open.js';
import { PgDigestStore } from '../store/pg-store.js';

const USAGE = 'usage: DATABASE_URL=postgres://… npm run store:copy -- --from data/digests.sqlite';

/** `npm run store:copy -- --from <file>`: moves a SQLite deployment's digests into PostgreSQL (DATABASE_URL). */
async function main(): Promise<void> {
  let from: string | undefined;
  try {
    from = parseArgs({ options: { from: { type: 'string' } } }).values.from;
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}\n${USAGE}`);
  }
  if (!from) throw new ConfigError(`--from is required\n${USAGE}`);
  if (!existsSync(from)) throw new ConfigError(`--from: no such file: ${from}`);
  const config = loadConfig();
  if (!config.DATABASE_URL) throw new ConfigError(`DATABASE_URL: required (the PostgreSQL database to copy into)\n${USAGE}`);
  const store = await PgDigestStore.open({
    url: config.DATABASE_URL,
    holder: `store-copy-${newReplicaId()}`,
    claimLeaseMs: config.REPLICA_LEASE_SECONDS * 1000,
  });
  try {
    const r = await copySqliteToPg(from, store);
    process.stdout.write(
      `copied ${r.subscriptions} subscriptions and ${r.deliveries} delivery records (${r.openClaims} open claims, re-sent with their keys by the replicas)\n`,
    );
  } finally {
    await store.close();
  }
}

main().catch(fatal);
