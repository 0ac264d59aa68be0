import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { ChatAdapter } from './adapters/types.js';
import { createApp, type App, type AppOverrides } from './app.js';
import type { Config } from './config.js';
import { startHttp } from './ops/http.js';

/** A running bot: what shutdown needs. */
export interface Running {
  app: App;
  adapters: readonly ChatAdapter[];
  /** Resolves when the console adapter reaches end of input (never for chat adapters). */
  done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Builds the bot (see createApp) and starts what the configuration asks for: knowledge hot reload, the HTTP
 * listener, the chat adapters or the console, the digest scheduler.
 */
export async function startBot(config: Config, logger: Logger, overrides: AppOverrides = {}): Promise<Running> {
  const app = await createApp(config, logger, overrides);
  const { adapters, digests } = app;
  if (config.KNOWLEDGE_WATCH) {
    app.knowledge.watch((r) => {
      if (r.ok && r.changed) logger.info({ version: r.version, topics: r.topics }, 'knowledge reloaded');
      else if (!r.ok) logger.error({ reason: r.reason }, 'knowledge change rejected; keeping the loaded version');
    });
  }

  let http: Server | undefined;
  if (config.HTTP_PORT !== undefined) {
    http = await startHttp({ port: config.HTTP_PORT, host: config.HTTP_HOST, metrics: app.metrics, logger, readiness: () => readiness(adapters) });
  }

  const started: ChatAdapter[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await digests?.scheduler.stop(); // a claimed slot stays claimed and is re-sent with the same key next start
    await Promise.allSettled(started.map((a) => a.stop()));
    app.knowledge.close();
    digests?.store.close();
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
  digests?.scheduler.start();
  const done = app.console ? app.console.run() : new Promise<void>(() => undefined);
  return { app, adapters, done, stop };
}

/** Ready when every chat adapter is connected; otherwise the reasons, one per adapter. */
function readiness(adapters: readonly ChatAdapter[]): { ready: boolean; reasons: string[] } {
  const reasons = adapters.flatMap((a) => {
    const s = a.status();
    return s.connected ? [] : [`${a.platform}: ${s.reason ?? 'not connected'}`];
  });
  return { ready: reasons.length === 0, reasons };
}
