/**
 * The real MatrixAdapter (real matrix-bot-sdk client) over a real Bot (real knowledge, commands and
 * digest service), wired like src/app.ts, pointed at the fake homeserver in test/fakes/matrix/.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { MatrixAdapter } from '../../src/adapters/matrix/adapter.js';
import type { CommandDef, Services } from '../../src/core/command.js';
import { DigestService } from '../../src/digest/service.js';
import { SqliteDigestStore } from '../../src/digest/store.js';
import { KnowledgeBase } from '../../src/knowledge/base.js';
import type { FakeMatrix, SentEvent } from '../fakes/matrix/server.js';
import { captureLogger, makeBot } from './bot.js';

export interface MatrixBotOptions {
  /** Where the adapter keeps its sync state and the digest database (one fresh tmp dir per test). */
  dataDir: string;
  /** Default: the fake's token. */
  accessToken?: string;
  /** Default 5 minutes, like MATRIX_GRACE_SECONDS. */
  graceMs?: number;
  inviteAllow?: string;
  /** Extra commands for the bot (see makeBot). */
  extra?: CommandDef[];
  /** Log here instead of into memory (the benchmark passes the production logger); the log arrays stay empty. */
  logger?: Logger;
  /** MATRIX_E2EE (default: unset, on when the token has a device). */
  e2ee?: boolean;
}

export interface MatrixBot {
  adapter: MatrixAdapter;
  digests: DigestService;
  /** JSON log lines of the adapter (and the SDK's warnings/errors routed into it). */
  adapterLogs: Record<string, unknown>[];
  /** JSON log lines of the bot core. */
  botLogs: Record<string, unknown>[];
  /** Stop the adapter (waits for replies in flight) and close the digest database. Idempotent. */
  close(): Promise<void>;
}

/** Build (not start) a Matrix adapter for `fake` with its own bot, knowledge and digest store. */
export async function makeMatrixBot(fake: FakeMatrix, o: MatrixBotOptions): Promise<MatrixBot> {
  const knowledge = new KnowledgeBase('knowledge');
  const store = new SqliteDigestStore(join(o.dataDir, 'digests.sqlite'));
  const digests = new DigestService(store, knowledge, { minIntervalSeconds: 1, maxPerChannel: 10 });
  const services: Services = {
    digests,
    reload: () => {
      const r = knowledge.reload();
      return r.ok ? { ok: true, version: r.version, topics: r.topics } : r;
    },
  };
  // Generous rate limit: these tests are about the adapter, not about the token bucket.
  const { bot, lines: botLogs } = await makeBot({ knowledge, services, extra: o.extra, rateLimit: { burst: 100, perMinute: 1000 }, ...(o.logger ? { logger: o.logger } : {}) });
  const captured = captureLogger('debug');
  const logger = o.logger ?? captured.logger;
  const adapterLogs = captured.lines;
  const adapter = new MatrixAdapter({
    homeserverUrl: fake.url,
    accessToken: o.accessToken ?? fake.accessToken,
    dataDir: o.dataDir,
    bot,
    logger,
    prefix: '!',
    inviteAllow: o.inviteAllow,
    graceMs: o.graceMs ?? 5 * 60_000,
    retry: { retries: 3, minTimeoutMs: 20 },
    e2ee: o.e2ee,
  });
  let closed = false;
  return {
    adapter,
    digests,
    adapterLogs,
    botLogs,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await adapter.stop();
      } finally {
        store.close();
      }
    },
  };
}

/** The event id a sent notice replies to (rich reply), if any. */
export function inReplyTo(e: SentEvent): string | undefined {
  return e.content?.['m.relates_to']?.['m.in_reply_to']?.event_id;
}
