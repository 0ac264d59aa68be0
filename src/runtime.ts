import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConsoleSession } from './adapters/console.js';
import { chatAdapters } from './adapters/index.js';
import type { ChatAdapter } from './adapters/types.js';
import { createApp, type App } from './app.js';
import { hasChatAdapter, type Config } from './config.js';
import { DigestScheduler, type Poster } from './digest/scheduler.js';
import { startHttp } from './ops/http.js';
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
  const terminal = chat ? undefined : new ConsoleSession(app.bot, { historyFile: join(config.DATA_DIR, 'console-history'), logger });
  const posters = new Map<string, Poster>(terminal ? [['console', terminal]] : adapters.map((a) => [a.platform, a]));
  const scheduler = new DigestScheduler({
    store: app.digestStore,
    knowledge: app.knowledge,
    posters,
    logger,
    catchUpGraceMs: config.DIGEST_CATCHUP_GRACE_SECONDS * 1000,
    pace: DIGEST_PACE,
    onDelivery: (o) => metrics?.delivery(o),
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
        const reasons = adapters.flatMap((a) => {
          const s = a.status();
          return s.connected ? [] : [`${a.platform}: ${s.reason ?? 'not connected'}`];
        });
        return { ready: reasons.length === 0, reasons };
      },
    });
  }

  const started: ChatAdapter[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await scheduler.stop(); // a claimed slot stays claimed and is re-sent with the same key next start
    await Promise.allSettled(started.map((a) => a.stop()));
    app.knowledge.close();
    app.digestStore.close();
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
    http?.closeAllConnections();
  };
  try {
    for (const a of adapters) {
      await a.start();
      started.push(a);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  scheduler.start();
  const done = terminal ? terminal.run() : new Promise<void>(() => undefined);
  return { app, adapters, done, stop };
}
