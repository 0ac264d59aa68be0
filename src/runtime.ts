import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { consolePoster, runConsole } from './adapters/console.js';
import { chatAdapters } from './adapters/index.js';
import type { ChatAdapter } from './adapters/types.js';
import { createApp, type App } from './app.js';
import { hasChatAdapter, type Config } from './config.js';
import { DigestScheduler, type Poster } from './digest/scheduler.js';
import { Roles } from './lease.js';
import { startHttp } from './ops/http.js';
import { Interactions } from './ops/interactions.js';
import { Metrics } from './ops/metrics.js';

/**
 * How fast digests go out per platform. discord.js keeps every REST call of the bot within Discord's global
 * limit of 50 per second; digests take at most 40 of them, so a fan-out never queues a reply to a person
 * behind it. Matrix has no global limit (a homeserver's rate limit answers 429 with retry_after_ms, which the
 * adapter honours); 8 sends in flight.
 */
const DIGEST_PACE = { discord: { concurrency: 4, perSecond: 40 }, matrix: { concurrency: 8 } };

/** A running bot: what shutdown needs. */
export interface Running {
  app: App;
  adapters: ChatAdapter[];
  /** Resolves when the console adapter reaches end of input (never for chat adapters). */
  done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts everything the configuration asks for: knowledge (hot reload),
 * the chat adapters or the console, the digest scheduler, the HTTP listener.
 */
export async function startBot(config: Config, logger: Logger): Promise<Running> {
  let adapters: ChatAdapter[] = [];
  let metrics: Metrics | undefined;
  const app = await createApp(config, logger, (e) => metrics?.handled(e));
  metrics = new Metrics(app.knowledge, () => adapters);
  if (config.KNOWLEDGE_WATCH) {
    app.knowledge.watch((r) => {
      if (r.ok && r.changed) logger.info({ version: r.version, topics: r.topics }, 'knowledge reloaded');
      else if (!r.ok) logger.error({ reason: r.reason }, 'knowledge change rejected; keeping the loaded version');
    });
  }
  const chat = hasChatAdapter(config);
  adapters = chat ? await chatAdapters(app) : [];
  const posters = new Map<string, Poster>(chat ? adapters.map((a) => [a.platform, a]) : [['console', consolePoster()]]);
  const roles = app.digestStore.shared ? replicaRoles(app, adapters, metrics) : undefined;
  if (roles) logger.info({ replica: app.replicaId, leaseSeconds: config.REPLICA_LEASE_SECONDS }, 'replica on the shared PostgreSQL store');
  const scheduler = new DigestScheduler({
    store: app.digestStore,
    knowledge: app.knowledge,
    posters,
    logger,
    catchUpGraceMs: config.DIGEST_CATCHUP_GRACE_SECONDS * 1000,
    pace: DIGEST_PACE,
    onDelivery: (o) => metrics?.delivery(o),
    // Several replicas: Discord's global budget is shared by the live replicas, each taking its part.
    ...(roles ? { paceShare: () => roles.liveReplicas(), renewEveryMs: roles.everyMs } : {}),
  });
  app.services.digests!.onChange = () => scheduler.wake();

  let http: Server | undefined;
  if (config.HTTP_PORT !== undefined) {
    http = await startHttp({
      port: config.HTTP_PORT,
      host: config.HTTP_HOST,
      metrics,
      logger,
      readiness: () => {
        // A standby replica (no role) is ready: it serves /interactions and digests.
        const held = roles?.names();
        const reasons = adapters.flatMap((a) => {
          if (held && !held.includes(roleOf(a))) return [];
          const s = a.status();
          return s.connected ? [] : [`${a.platform}: ${s.reason ?? 'not connected'}`];
        });
        return { ready: reasons.length === 0, reasons, ...(held ? { roles: held } : {}) };
      },
      ...(config.DISCORD_PUBLIC_KEY ? { interactions: interactionsEndpoint(app, config.DISCORD_PUBLIC_KEY, metrics) } : {}),
    });
  }

  const started: ChatAdapter[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await scheduler.stop(); // a claimed slot stays claimed and is re-sent with the same key next start
    await roles?.stop(); // gives the roles up at once, so another replica takes them without waiting for the lease
    await Promise.allSettled((roles ? adapters : started).map((a) => a.stop()));
    app.knowledge.close();
    await app.digestStore.close();
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
    http?.closeAllConnections();
  };
  try {
    if (roles) await roles.start(); // each adapter connects when this replica takes its role
    else {
      for (const a of adapters) {
        await a.start();
        started.push(a);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  scheduler.start();
  const done = chat ? new Promise<void>(() => undefined) : runConsole(app.bot);
  return { app, adapters, done, stop };
}

/** The role an adapter's connection is: one Discord gateway, one Matrix syncer. */
function roleOf(a: ChatAdapter): string {
  return a.platform === 'discord' ? 'gateway' : 'matrix';
}

/** Several replicas: each adapter's connection is a role held by one replica at a time through a lease. */
function replicaRoles(app: App, adapters: ChatAdapter[], metrics: Metrics): Roles {
  const roleList = adapters.map((a) => ({ name: roleOf(a), take: () => a.start(), giveUp: () => a.stop() }));
  const roles = new Roles(app.digestStore, app.replicaId, app.config.REPLICA_LEASE_SECONDS * 1000, roleList, app.logger.child({ component: 'roles' }), {
    renewed: metrics.leaseRenewed,
    takenOver: metrics.takenOver,
  });
  metrics.roles = () => ({ all: roleList.map((r) => r.name), held: roles.names() });
  return roles;
}

/** POST /interactions: answered here by whichever replica receives it; a deferred one is completed over REST. */
function interactionsEndpoint(app: App, publicKey: string, metrics: Metrics): Interactions {
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
