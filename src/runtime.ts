import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { ChatAdapter } from './adapters/types.js';
import { createApp, roleOf, type App, type AppOverrides } from './app.js';
import type { Config } from './config.js';
import type { DigestScheduler } from './digest/scheduler.js';
import { DataDirLock, type Roles } from './lease.js';
import { startHttp } from './ops/http.js';
import type { Interactions } from './ops/interactions.js';
import type { Metrics } from './ops/metrics.js';
import type { StartupError } from './startup-error.js';

/** A running bot: what shutdown needs. */
export interface Running {
  app: App;
  adapters: readonly ChatAdapter[];
  /** Resolves when the console adapter reaches end of input (never for chat adapters). */
  done: Promise<void>;
  /** Resolves when a platform refuses the bot for good while it runs (see ChatAdapter.onFatal): drain and exit 2. */
  fatal: Promise<StartupError>;
  stop(): Promise<void>;
}

/**
 * Builds the bot (see createApp) and starts what the configuration asks for: knowledge hot reload, the HTTP
 * listener, the chat adapters or the console, the digest scheduler.
 */
export async function startBot(config: Config, logger: Logger, overrides: AppOverrides = {}): Promise<Running> {
  const app = await createApp(config, logger, overrides);
  const { adapters, digests, roles } = app;
  let reportFatal: (err: StartupError) => void = () => undefined;
  const fatal = new Promise<StartupError>((resolve) => (reportFatal = resolve));
  for (const a of adapters) a.onFatal = reportFatal;
  if (config.KNOWLEDGE_WATCH) {
    app.knowledge.watch((r) => {
      if (r.ok && r.changed) logger.info({ version: r.version, topics: r.topics }, 'knowledge reloaded');
      else if (!r.ok) logger.error({ reason: r.reason }, 'knowledge change rejected; keeping the loaded version');
    });
  }

  let http: Server | undefined;
  let standby = false; // SQLite mode: waiting for another process to free DATA_DIR
  if (config.HTTP_PORT !== undefined) {
    http = await startHttp({
      port: config.HTTP_PORT,
      host: config.HTTP_HOST,
      metrics: app.metrics,
      logger,
      readiness: () => readiness(adapters, roles, digests?.scheduler, standby),
      ...(config.DISCORD_PUBLIC_KEY ? { interactions: await interactionsEndpoint(app, config.DISCORD_PUBLIC_KEY, app.metrics) } : {}),
    });
  }

  const started: ChatAdapter[] = [];
  let stopped = false;
  // SQLite mode with chat adapters: one process per DATA_DIR; a second one waits as a standby (src/lease.ts).
  const lock =
    !roles && adapters.length > 0 && digests ? new DataDirLock(digests.store, app.replicaId, config.REPLICA_LEASE_SECONDS * 1000, logger) : undefined;
  let lockLost: (err: Error) => void = () => undefined;
  const lost = new Promise<void>((_, reject) => (lockLost = reject));
  lost.catch(() => undefined); // reported through `done`; not an unhandled rejection where nobody awaits it
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await digests?.scheduler.stop(); // a claimed slot stays claimed and is re-sent with the same key next start
    await roles?.stop(); // gives the roles up at once, so another replica takes them without waiting for the lease
    await Promise.allSettled((roles ? adapters : started).map((a) => a.stop()));
    await lock?.release();
    app.knowledge.close();
    await digests?.store.close();
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
    http?.closeAllConnections();
  };
  const begin = async () => {
    if (roles)
      await roles.start(); // each adapter connects when this replica takes its role
    else {
      for (const a of adapters) {
        await a.start();
        started.push(a);
      }
    }
    digests?.scheduler.start();
    lock?.keep((reason) => {
      logger.error({ reason }, 'DATA_DIR lease lost; stopping so that one process runs on it');
      void stop().finally(() => lockLost(new Error(`DATA_DIR lease lost: ${reason}`)));
    });
  };
  try {
    if (!lock || (await lock.tryTake())) await begin();
    else {
      standby = true;
      void lock
        .waitFor(() => stopped)
        .then(async (taken) => {
          standby = false;
          if (taken && !stopped) await begin();
        })
        .catch(async (err: unknown) => {
          logger.error({ err }, 'starting after the DATA_DIR lease was freed failed');
          await stop();
          lockLost(err as Error);
        });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const done = app.console ? app.console.run() : lock ? lost : new Promise<void>(() => undefined);
  return { app, adapters, done, fatal, stop };
}

/**
 * Ready when every chat adapter is connected and the digest store is usable; otherwise the reasons. Several replicas: only the
 * adapters whose role this replica holds count, so a standby is ready (it serves /interactions and digests).
 */
function readiness(
  adapters: readonly ChatAdapter[],
  roles?: Roles,
  scheduler?: DigestScheduler,
  standby = false,
): { ready: boolean; reasons: string[]; roles?: string[] } {
  if (standby)
    return {
      ready: false,
      reasons: ['standby: another bot process holds this DATA_DIR (one process per DATA_DIR with SQLite; set DATABASE_URL to run replicas)'],
    };
  const held = roles?.names();
  const reasons = adapters.flatMap((a) => {
    if (held && !held.includes(roleOf(a))) return [];
    const s = a.status();
    return s.connected ? [] : [`${a.platform}: ${s.reason ?? 'not connected'}`];
  });
  const digests = scheduler?.problem();
  if (digests) reasons.push(`digests: ${digests}`);
  return { ready: reasons.length === 0, reasons, ...(held ? { roles: held } : {}) };
}

/**
 * POST /interactions: answered here by whichever replica receives it; a deferred one is completed over REST.
 * Loaded only when configured: it renders with discord.js, which the console alone should not load.
 */
async function interactionsEndpoint(app: App, publicKey: string, metrics: Metrics): Promise<Interactions> {
  const { Interactions } = await import('./ops/interactions.js');
  const api = `${(app.config.DISCORD_API_URL ?? 'https://discord.com/api').replace(/\/+$/, '')}/v10`;
  return new Interactions({
    publicKey,
    bot: app.bot,
    logger: app.logger,
    onAnswered: metrics.interaction,
    async followUp(applicationId, token, body) {
      const res = await fetch(`${api}/webhooks/${applicationId}/${encodeURIComponent(token)}/messages/@original`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`follow-up answered ${res.status}`);
    },
  });
}
