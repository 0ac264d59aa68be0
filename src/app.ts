import { join } from 'node:path';
import type { Logger } from 'pino';
import { reloadKnowledge } from '../commands/reload.js';
import { digestService } from '../commands/digest.js';
import { ConsoleSession } from './adapters/console.js';
import type { MatrixOptions } from './adapters/matrix/adapter.js';
import type { ChatAdapter } from './adapters/types.js';
import { hasChatAdapter, type Config } from './config.js';
import { Bot, type BotOptions } from './core/bot.js';
import { Services, type CommandDef } from './core/command.js';
import { loadCommands } from './core/registry.js';
import type { Poster } from './digest/port.js';
import { DigestScheduler, type Pace, type SchedulerOptions } from './digest/scheduler.js';
import { DigestService } from './digest/service.js';
import type { DigestStore } from './digest/store.js';
import { Roles } from './lease.js';
import { KnowledgeBase } from './knowledge/base.js';
import { Metrics } from './ops/metrics.js';
import { ensureDataDir } from './ops/data-dir.js';
import { newReplicaId, openStore } from './store/open.js';

/**
 * How fast digests go out per platform. discord.js keeps every REST call of the bot within Discord's global
 * limit of 50 per second; digests take at most 40 of them, so a fan-out never queues a reply to a person
 * behind it. Matrix has no global limit (a homeserver's rate limit answers 429 with retry_after_ms, which the
 * adapter honours); 8 sends in flight.
 */
export const DIGEST_PACE: Readonly<Record<string, Pace>> = { discord: { concurrency: 4, perSecond: 40 }, matrix: { concurrency: 8 } };

/**
 * What a caller may replace or leave out when building the bot. Production passes nothing; the one-shot CLI
 * leaves out the store and the chat platforms; tests swap in their knowledge, commands, clocks and timings.
 */
export interface AppOverrides {
  knowledge?: KnowledgeBase;
  /** Commands besides those in `commands/`. */
  extraCommands?: readonly CommandDef[];
  /** false: no digest store is opened and /digest answers "not available" (the one-shot CLI). */
  digests?: boolean;
  /** false: build no chat adapter even when credentials are set (the one-shot CLI). */
  chat?: boolean;
  /** Where the console writes (default stdout). */
  consoleOutput?: NodeJS.WritableStream;
  bot?: Partial<Pick<BotOptions, 'rateLimit' | 'maxInputChars'>>;
  scheduler?: Partial<Pick<SchedulerOptions, 'now' | 'retry' | 'pace' | 'storageRetryMs'>>;
  matrix?: Partial<Pick<MatrixOptions, 'retry' | 'connectBackoff'>>;
}

/** The digest feature: its store, the commands' service and the scheduler that posts. */
export interface Digests {
  readonly store: DigestStore;
  readonly service: DigestService;
  readonly scheduler: DigestScheduler;
}

/** A bot built from its configuration, not yet started. */
export interface App {
  readonly config: Config;
  readonly logger: Logger;
  readonly knowledge: KnowledgeBase;
  readonly bot: Bot;
  readonly metrics: Metrics;
  readonly digests?: Digests;
  /** The chat platforms the configuration enables (none: the console). */
  readonly adapters: readonly ChatAdapter[];
  /** The terminal chat, when no chat platform is configured; it also posts the console's digests. */
  readonly console?: ConsoleSession;
  /** This process's name in leases and claims. */
  readonly replicaId: string;
  /** Several replicas (DATABASE_URL): each adapter's connection is a role held by one replica at a time. */
  readonly roles?: Roles;
}

/**
 * The composition root: builds the whole bot from a configuration (knowledge, metrics, digests, commands and
 * their dependencies, the chat adapters). Production, the CLI and the tests all build it here. Throws
 * KnowledgeError when the knowledge is broken.
 */
export async function createApp(config: Config, logger: Logger, o: AppOverrides = {}): Promise<App> {
  const knowledge = o.knowledge ?? new KnowledgeBase(config.KNOWLEDGE_DIR);
  const k = knowledge.current.knowledge;
  logger.info({ version: k.version, topics: k.topics.length, points: k.points.length, ms: Math.round(k.loadMs) }, 'knowledge loaded');
  // The Matrix sync state lives in DATA_DIR unless the store is shared (openStore checks it for the SQLite store).
  if (!config.DATABASE_URL && o.chat !== false && config.MATRIX_ACCESS_TOKEN) ensureDataDir(config.DATA_DIR);
  const adapters: ChatAdapter[] = [];
  const posters = new Map<string, Poster>();
  const metrics = new Metrics(knowledge, () => adapters);
  const replicaId = newReplicaId();
  let roles: Roles | undefined;
  const digests =
    o.digests === false ? undefined : await createDigests(config, logger, knowledge, posters, metrics, o, replicaId, () => roles?.liveReplicas() ?? 1);

  const services = new Services().provide(reloadKnowledge, () => {
    const r = knowledge.reload();
    if (!r.ok) logger.error({ reason: r.reason }, 'knowledge reload refused; keeping the loaded version');
    return r.ok ? { ok: true, version: r.version, topics: r.topics } : r;
  });
  if (digests) services.provide(digestService, digests.service);
  const bot = new Bot({
    commands: [...(await loadCommands()), ...(o.extraCommands ?? [])],
    knowledge,
    logger,
    services,
    maxInputChars: o.bot?.maxInputChars ?? config.MAX_INPUT_CHARS,
    rateLimit: o.bot?.rateLimit ?? { burst: config.RATE_LIMIT_BURST, perMinute: config.RATE_LIMIT_PER_MINUTE },
    // Several replicas: one budget per user across all of them (one database round trip per message).
    ...(digests?.store.rateLimiter && !o.bot?.rateLimit
      ? { limiter: digests.store.rateLimiter(config.RATE_LIMIT_BURST, config.RATE_LIMIT_PER_MINUTE, logger) }
      : {}),
    onHandled: metrics.handled,
  });

  const shared = digests?.store.shared ? digests.store : undefined;
  if (o.chat !== false) adapters.push(...(await chatAdapters(config, bot, logger, o, digests?.store)));
  for (const a of adapters) posters.set(a.platform, a);
  const terminal = hasChatAdapter(config)
    ? undefined
    : new ConsoleSession(bot, { output: o.consoleOutput, historyFile: join(config.DATA_DIR, 'console-history'), logger });
  if (terminal) posters.set('console', terminal);
  if (shared) {
    roles = replicaRoles(shared, replicaId, config, adapters, logger, metrics);
    logger.info({ replica: replicaId, leaseSeconds: config.REPLICA_LEASE_SECONDS }, 'replica on the shared PostgreSQL store');
  }
  return {
    config,
    logger,
    knowledge,
    bot,
    metrics,
    ...(digests ? { digests } : {}),
    adapters,
    ...(terminal ? { console: terminal } : {}),
    replicaId,
    ...(roles ? { roles } : {}),
  };
}

async function createDigests(
  config: Config,
  logger: Logger,
  knowledge: KnowledgeBase,
  posters: ReadonlyMap<string, Poster>,
  metrics: Metrics,
  o: AppOverrides,
  replicaId: string,
  liveReplicas: () => number,
): Promise<Digests> {
  const store = await openStore(config, replicaId);
  const scheduler = new DigestScheduler({
    store,
    knowledge,
    posters,
    logger,
    catchUpGraceMs: config.DIGEST_CATCHUP_GRACE_SECONDS * 1000,
    pace: DIGEST_PACE,
    // Several replicas: Discord's global budget is shared by the live replicas, each taking its part.
    ...(store.shared ? { paceShare: liveReplicas, renewEveryMs: Math.max(250, (config.REPLICA_LEASE_SECONDS * 1000) / 4) } : {}),
    ...o.scheduler,
    onDelivery: metrics.delivery,
    onStorageError: metrics.storageError,
  });
  const service = new DigestService(store, knowledge, {
    minIntervalSeconds: config.DIGEST_MIN_INTERVAL_SECONDS,
    maxPerChannel: config.DIGEST_MAX_PER_CHANNEL,
    onChange: () => scheduler.wake(),
    onStorageError: (err) => {
      logger.error({ err }, 'digest subscription could not be stored');
      metrics.storageError();
    },
  });
  return { store, service, scheduler };
}

/**
 * The chat adapters the configuration enables (Discord and Matrix can run together). SDKs are imported only
 * when needed, so the console starts fast.
 */
async function chatAdapters(config: Config, bot: Bot, logger: Logger, o: AppOverrides, store?: DigestStore): Promise<ChatAdapter[]> {
  const shared = store?.shared ? store : undefined;
  const adapters: ChatAdapter[] = [];
  if (config.DISCORD_TOKEN) {
    const { DiscordAdapter } = await import('./adapters/discord/adapter.js');
    // Mentions sent while no session held the gateway (a restart, an invalidated session, a failover between
    // replicas) are read back and answered once.
    const { MissedMentions } = await import('./adapters/discord/missed.js');
    const missed = new MissedMentions({ store, log: logger.child({ component: 'missed-mentions' }) });
    adapters.push(
      new DiscordAdapter({
        token: config.DISCORD_TOKEN,
        apiUrl: config.DISCORD_API_URL,
        guildId: config.DISCORD_GUILD_ID,
        admins: config.BOT_ADMINS,
        bot,
        logger,
        missed,
      }),
    );
  }
  if (config.MATRIX_HOMESERVER_URL && config.MATRIX_ACCESS_TOKEN) {
    const { MatrixAdapter } = await import('./adapters/matrix/adapter.js');
    adapters.push(
      new MatrixAdapter({
        homeserverUrl: config.MATRIX_HOMESERVER_URL,
        accessToken: config.MATRIX_ACCESS_TOKEN,
        dataDir: config.DATA_DIR,
        bot,
        logger,
        prefix: config.MATRIX_COMMAND_PREFIX,
        inviteAllow: config.MATRIX_INVITE_ALLOW,
        graceMs: config.MATRIX_GRACE_SECONDS * 1000,
        admins: config.BOT_ADMINS,
        // Several replicas: no encryption (its keys cannot follow the Matrix role; MATRIX_E2EE=true is refused at start-up).
        ...(shared ? { sharedState: shared, e2ee: false } : { e2ee: config.MATRIX_E2EE }),
        ...o.matrix,
      }),
    );
  }
  return adapters;
}

/** The role an adapter's connection is: one Discord gateway, one Matrix syncer. */
export function roleOf(a: ChatAdapter): string {
  return a.platform === 'discord' ? 'gateway' : 'matrix';
}

function replicaRoles(store: DigestStore, replicaId: string, config: Config, adapters: readonly ChatAdapter[], logger: Logger, metrics: Metrics): Roles {
  const list = adapters.map((a) => ({ name: roleOf(a), take: () => a.start(), giveUp: () => a.stop() }));
  const roles = new Roles(store, replicaId, config.REPLICA_LEASE_SECONDS * 1000, list, logger.child({ component: 'roles' }), {
    renewed: metrics.leaseRenewed,
    takenOver: metrics.takenOver,
  });
  metrics.roles = () => ({ all: list.map((r) => r.name), held: roles.names() });
  return roles;
}
