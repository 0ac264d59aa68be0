import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ChatAdapter } from '../adapters/types.js';
import type { HandledEvent } from '../core/bot.js';
import type { DeliveryOutcome } from '../digest/scheduler.js';
import type { KnowledgeBase } from '../knowledge/base.js';

/** The bot's Prometheus metrics, in a registry of its own. */
export class Metrics {
  readonly registry = new Registry();
  private readonly messages = new Counter({
    name: 'kbot_messages_total',
    help: 'Messages handled, by platform, command and outcome',
    labelNames: ['platform', 'command', 'outcome'],
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'kbot_reply_seconds',
    help: 'Time from a message reaching the core to its reply model',
    labelNames: ['platform', 'command'],
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  private readonly limited = new Counter({
    name: 'kbot_rate_limited_total',
    help: 'Messages refused by the per-user rate limit (warned or dropped)',
    labelNames: ['platform'],
    registers: [this.registry],
  });
  private readonly deliveries = new Counter({
    name: 'kbot_digest_deliveries_total',
    help: 'Digest slots by outcome',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly storageErrors = new Counter({
    name: 'kbot_digest_storage_errors_total',
    help: 'Failed reads and writes of the digest database (full disk, deleted file)',
    registers: [this.registry],
  });
  private readonly renewals = new Counter({
    name: 'kbot_lease_renewals_total',
    help: 'Role leases renewed by this replica',
    labelNames: ['role'],
    registers: [this.registry],
  });
  private readonly takeovers = new Counter({
    name: 'kbot_lease_takeovers_total',
    help: 'Roles taken by this replica',
    labelNames: ['role'],
    registers: [this.registry],
  });
  private readonly interactions = new Counter({
    name: 'kbot_interactions_total',
    help: 'POST /interactions requests by answer',
    labelNames: ['answer'],
    registers: [this.registry],
  });
  /** Several replicas: the roles this replica holds (set by the runtime). */
  roles?: () => { all: readonly string[]; held: readonly string[] };

  constructor(knowledge: KnowledgeBase, adapters: () => readonly ChatAdapter[]) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'kbot_adapter_connected',
      help: '1 when the chat adapter is connected',
      labelNames: ['platform'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const a of adapters()) this.set({ platform: a.platform }, a.status().connected ? 1 : 0);
      },
    });
    new Counter({
      name: 'kbot_replies_shed_total',
      help: "Replies dropped unsent because the platform's reply queue was full (oldest first)",
      labelNames: ['platform'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const a of adapters()) this.inc({ platform: a.platform }, a.replyStats().shed);
      },
    });
    new Gauge({
      name: 'kbot_reply_queue_length',
      help: 'Replies waiting to be sent, per platform',
      labelNames: ['platform'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const a of adapters()) this.set({ platform: a.platform }, a.replyStats().pending);
      },
    });
    const metrics = this;
    new Gauge({
      name: 'kbot_role_held',
      help: '1 for each role this replica holds (several replicas), 0 for the others',
      labelNames: ['role'],
      registers: [this.registry],
      collect() {
        this.reset();
        const r = metrics.roles?.();
        for (const name of r?.all ?? []) this.set({ role: name }, r!.held.includes(name) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'kbot_knowledge_info',
      help: 'The loaded knowledge version (value 1)',
      labelNames: ['version'],
      registers: [this.registry],
      collect() {
        this.reset();
        this.set({ version: knowledge.current.knowledge.version }, 1);
      },
    });
    new Gauge({
      name: 'kbot_knowledge_load_seconds',
      help: 'Time the current knowledge took to load and validate',
      registers: [this.registry],
      collect() {
        this.set(knowledge.current.knowledge.loadMs / 1000);
      },
    });
    new Gauge({
      name: 'kbot_knowledge_loaded_timestamp_seconds',
      help: 'When the current knowledge was loaded',
      registers: [this.registry],
      collect() {
        this.set(knowledge.current.knowledge.loadedAt.getTime() / 1000);
      },
    });
  }

  handled = (e: HandledEvent): void => {
    this.messages.inc({ platform: e.platform, command: e.command, outcome: e.outcome });
    if (e.outcome === 'rate-limited' || e.outcome === 'dropped') this.limited.inc({ platform: e.platform });
    else this.latency.observe({ platform: e.platform, command: e.command }, e.ms / 1000);
  };

  delivery = (outcome: DeliveryOutcome): void => {
    this.deliveries.inc({ outcome });
  };

  storageError = (): void => {
    this.storageErrors.inc();
  };

  leaseRenewed = (role: string): void => {
    this.renewals.inc({ role });
  };

  takenOver = (role: string): void => {
    this.takeovers.inc({ role });
  };

  interaction = (answer: string): void => {
    this.interactions.inc({ answer });
  };
}
