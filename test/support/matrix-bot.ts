/**
 * The real MatrixAdapter (real matrix-bot-sdk client) over a real Bot (real knowledge, commands and digest
 * service), built by the production composition root (createApp), pointed at the fake homeserver in
 * test/fakes/matrix/.
 */
import type { Logger } from 'pino';
import type { MatrixAdapter } from '../../src/adapters/matrix/adapter.js';
import { createApp } from '../../src/app.js';
import type { CommandDef } from '../../src/core/command.js';
import type { DigestService } from '../../src/digest/service.js';
import type { FakeMatrix, SentEvent } from '../fakes/matrix/server.js';
import { captureLogger, testConfig } from './bot.js';

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
  /** Waits between attempts to reach a homeserver that is down at start-up (default: production's). */
  connectBackoff?: { firstMs: number; maxMs: number };
  /** BOT_ADMINS (Matrix user ids). */
  admins?: string[];
  /** Knowledge directory (default: the repository's). */
  knowledgeDir?: string;
  /** Log here instead of into memory (the benchmark passes the production logger); the log arrays stay empty. */
  logger?: Logger;
  /** MATRIX_E2EE (default: unset, on when the token has a device). */
  e2ee?: boolean;
}

export interface MatrixBot {
  adapter: MatrixAdapter;
  digests: DigestService;
  /** JSON log lines of the bot (adapter, core, and the SDK's warnings/errors routed into it). */
  adapterLogs: Record<string, unknown>[];
  /** The same lines (kept for tests that read the core's log). */
  botLogs: Record<string, unknown>[];
  /** Stop the adapter (waits for replies in flight) and close the digest database. Idempotent. */
  close(): Promise<void>;
}

/** Build (not start) a Matrix adapter for `fake` with its own bot, knowledge and digest store. */
export async function makeMatrixBot(fake: FakeMatrix, o: MatrixBotOptions): Promise<MatrixBot> {
  const captured = captureLogger('debug');
  const logger = o.logger ?? captured.logger;
  const config = testConfig({
    MATRIX_HOMESERVER_URL: fake.url,
    MATRIX_ACCESS_TOKEN: o.accessToken ?? fake.accessToken,
    DATA_DIR: o.dataDir,
    MATRIX_GRACE_SECONDS: String(Math.round((o.graceMs ?? 5 * 60_000) / 1000)),
    ...(o.inviteAllow !== undefined ? { MATRIX_INVITE_ALLOW: o.inviteAllow } : {}),
    DIGEST_MIN_INTERVAL_SECONDS: '1',
    ...(o.admins ? { BOT_ADMINS: o.admins.join(',') } : {}),
    ...(o.knowledgeDir ? { KNOWLEDGE_DIR: o.knowledgeDir } : {}),
    // Generous rate limit: these tests are about the adapter, not about the token bucket.
    RATE_LIMIT_BURST: '100',
    RATE_LIMIT_PER_MINUTE: '1000',
    ...(o.e2ee !== undefined ? { MATRIX_E2EE: String(o.e2ee) } : {}),
  });
  const app = await createApp(config, logger, {
    extraCommands: o.extra,
    matrix: { retry: { retries: 3, minTimeoutMs: 20 }, ...(o.connectBackoff ? { connectBackoff: o.connectBackoff } : {}) },
  });
  const adapter = app.adapters[0] as MatrixAdapter;
  let closed = false;
  return {
    adapter,
    digests: app.digests!.service,
    adapterLogs: captured.lines,
    botLogs: captured.lines,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await adapter.stop();
      } finally {
        app.digests?.store.close();
      }
    },
  };
}

/** The event id a sent notice replies to (rich reply), if any. */
export function inReplyTo(e: SentEvent): string | undefined {
  return e.content?.['m.relates_to']?.['m.in_reply_to']?.event_id;
}
