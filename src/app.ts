import type { Logger } from 'pino';
import type { Config } from './config.js';
import { Bot, type HandledEvent } from './core/bot.js';
import type { Services } from './core/command.js';
import { loadCommands } from './core/registry.js';
import { KnowledgeBase } from './knowledge/base.js';
import { DigestService } from './digest/service.js';
import type { DigestStore } from './digest/store.js';
import { newReplicaId, openStore } from './store/open.js';

/** The platform-neutral parts of a running bot, wired together. */
export interface App {
  readonly config: Config;
  readonly logger: Logger;
  readonly knowledge: KnowledgeBase;
  readonly bot: Bot;
  readonly services: Services;
  readonly digestStore: DigestStore;
  /** This process's name in leases and claims. */
  readonly replicaId: string;
}

/** Loads knowledge (throws KnowledgeError when broken) and commands, and builds the bot. */
export async function createApp(config: Config, logger: Logger, onHandled?: (e: HandledEvent) => void): Promise<App> {
  const knowledge = new KnowledgeBase(config.KNOWLEDGE_DIR);
  const k = knowledge.current.knowledge;
  logger.info({ version: k.version, topics: k.topics.length, points: k.points.length, ms: Math.round(k.loadMs) }, 'knowledge loaded');
  const replicaId = newReplicaId();
  const store = await openStore(config, replicaId);
  const digests = new DigestService(store, knowledge, { minIntervalSeconds: config.DIGEST_MIN_INTERVAL_SECONDS, maxPerChannel: config.DIGEST_MAX_PER_CHANNEL });
  const services: Services = {
    digests,
    reload: () => {
      const r = knowledge.reload();
      return r.ok ? { ok: true, version: r.version, topics: r.topics } : r;
    },
  };
  const bot = new Bot({
    commands: await loadCommands(),
    knowledge,
    logger,
    services,
    maxInputChars: config.MAX_INPUT_CHARS,
    rateLimit: { burst: config.RATE_LIMIT_BURST, perMinute: config.RATE_LIMIT_PER_MINUTE },
    onHandled,
  });
  return { config, logger, knowledge, bot, services, digestStore: store, replicaId };
}
