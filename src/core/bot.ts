import Fuse from 'fuse.js';
import type { Logger } from 'pino';
import type { KnowledgeBase } from '../knowledge/base.js';
import type { Args, CommandContext, CommandDef, IncomingMessage } from './command.js';
import { permissionOf, Services, usageOf } from './command.js';
import { parseArgs, splitCommand } from './parse.js';
import { type Limiter, type RateDecision, RateLimiter } from './rate-limit.js';
import type { Reply } from './reply.js';
import { replies } from './reply.js';
import { ellipsis } from './ellipsis.js';

export interface BotOptions {
  commands: CommandDef[];
  knowledge: KnowledgeBase;
  logger: Logger;
  services?: Services;
  maxInputChars?: number;
  rateLimit?: { burst: number; perMinute: number };
  /** Replaces the in-memory per-user limiter built from `rateLimit` (replicas share one in PostgreSQL). */
  limiter?: Limiter;
  /** Called once per handled message (metrics). */
  onHandled?: (e: HandledEvent) => void;
}

export interface HandledEvent {
  platform: string;
  command: string;
  outcome: Outcome;
  ms: number;
}

export type Outcome = 'ok' | 'no-match' | 'usage' | 'denied' | 'rate-limited' | 'dropped' | 'error' | 'too-long';

/** The autocomplete budget per user, as multiples of the message rate limit (default 20 at once, 120 a minute). */
const AUTOCOMPLETE_FACTOR = { burst: 4, perMinute: 6 };

// Control characters other than tab and newline, and lone surrogates.
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// Every character CONTROL could remove is one of these (any surrogate, paired or not): text without them is kept as it is.
const MAYBE_CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\uD800-\uDFFF]/;

/**
 * The platform-neutral bot: turns a message into a command invocation and a
 * reply model. Applies input caps, the per-user rate limit and permissions,
 * and guarantees that no handler error reaches an adapter.
 */
export class Bot {
  readonly commands: readonly CommandDef[];
  private readonly byName = new Map<string, CommandDef>();
  private readonly commandFuse: Fuse<string>;
  private readonly limiter: Limiter;
  private readonly completeLimiter: RateLimiter;
  private readonly maxInput: number;
  private readonly services: Services;

  constructor(private readonly opts: BotOptions) {
    this.commands = opts.commands;
    for (const c of opts.commands) for (const n of [c.name, ...(c.aliases ?? [])]) this.byName.set(n, c);
    this.commandFuse = new Fuse([...this.byName.keys()], { threshold: 0.4, includeScore: true });
    const rl = opts.rateLimit ?? { burst: 5, perMinute: 20 };
    this.limiter = opts.limiter ?? new RateLimiter(rl.burst, rl.perMinute);
    // Autocomplete fires per keystroke: its own bucket, a few times the message budget (typing speed), so a
    // user typing a command is not slowed down by their own suggestions, and one user cannot flood it.
    this.completeLimiter = new RateLimiter(rl.burst * AUTOCOMPLETE_FACTOR.burst, rl.perMinute * AUTOCOMPLETE_FACTOR.perMinute);
    this.maxInput = opts.maxInputChars ?? 2000;
    this.services = opts.services ?? new Services();
  }

  get knowledge(): KnowledgeBase {
    return this.opts.knowledge;
  }

  command(name: string): CommandDef | undefined {
    return this.byName.get(name.toLowerCase());
  }

  /**
   * A text message (console, Matrix, Discord mention). `prefixes` are the
   * command prefixes of the platform. Resolves to null when the bot stays
   * silent (not addressed, or rate-limited after the warning); never rejects.
   */
  async handle(msg: IncomingMessage, prefixes: readonly string[]): Promise<Reply | null> {
    const started = performance.now();
    const text = (MAYBE_CONTROL.test(msg.text) ? msg.text.replace(CONTROL, '') : msg.text).trim();
    const line = splitCommand(text, prefixes);
    const prefix = line?.prefix ?? prefixes[0] ?? '/';
    const def = line ? this.command(line.name) : undefined;
    if (!def && !msg.addressed) return null; // someone else's command, or chat not meant for us
    if (text.length === 0)
      return this.finish(msg, 'help', 'usage', started, {
        kind: 'usage',
        summary: `Ask me about the state of Linux kernel development, or try ${prefix}help.`,
      });
    if (text.length > this.maxInput) {
      return this.limited(msg, started, def?.name ?? 'ask', () =>
        this.finish(
          msg,
          def?.name ?? 'ask',
          'too-long',
          started,
          replies.error(
            `That message is too long (${text.length.toLocaleString('en')} characters; I read at most ${this.maxInput.toLocaleString('en')}). Ask a shorter question.`,
          ),
        ),
      );
    }
    if (line && !def) {
      const near = this.commandFuse.search(line.name.slice(0, 32), { limit: 1 })[0];
      const hint = near ? ` Did you mean ${prefix}${near.item}?` : '';
      const shown = ellipsis(line.name, 30);
      return this.limited(msg, started, 'unknown', () =>
        this.finish(msg, 'unknown', 'usage', started, replies.usage(`There is no command "${prefix}${shown}".${hint}`, `${prefix}help`)),
      );
    }
    const command = def ?? this.byName.get('ask')!;
    const rest = line ? line.rest : text;
    const parsed = line ? parseArgs(command, rest) : { ok: true as const, args: { question: rest } };
    if (!parsed.ok) {
      return this.limited(msg, started, command.name, () =>
        this.finish(msg, command.name, 'usage', started, replies.usage(`Sorry, ${parsed.error}.`, usageOf(command, prefix))),
      );
    }
    return this.invokeTimed(command, parsed.args, msg, prefix, started);
  }

  /** A structured invocation (Discord slash commands); same limits, permissions and error guarantee. */
  async invoke(command: CommandDef, args: Args, msg: IncomingMessage, prefix = '/'): Promise<Reply | null> {
    return this.invokeTimed(command, args, msg, prefix, performance.now());
  }

  /** Autocomplete values for an option that declares `autocomplete: 'topics'`. */
  complete(input: string, limit = 25): { name: string; value: string }[] {
    return this.opts.knowledge.current.search.completeTopics(input, limit).map((t) => ({ name: t.title, value: t.id }));
  }

  /** Command names and aliases for a partly typed name: those it starts, else the closest one (typos). */
  completeCommand(partial: string): string[] {
    const k = partial.toLowerCase();
    const names = [...this.byName.keys()];
    const starts = names.filter((n) => n.startsWith(k));
    if (starts.length > 0 || k.length < 2) return starts;
    const near = this.commandFuse.search(k.slice(0, 32), { limit: 1 })[0];
    return near ? [near.item] : [];
  }

  /**
   * Takes one autocomplete from the user's budget (limited per user like messages, in a bucket of its own).
   * False when it is spent: the adapter then does not answer (an unanswered autocomplete is harmless).
   * Counted as "dropped", not logged per request.
   */
  allowComplete(msg: Pick<IncomingMessage, 'platform' | 'userId' | 'unlimited'>): boolean {
    if (msg.unlimited || this.completeLimiter.take(`${msg.platform}:${msg.userId}`) === 'allow') return true;
    this.opts.onHandled?.({ platform: msg.platform, command: 'autocomplete', outcome: 'dropped', ms: 0 });
    return false;
  }

  /**
   * Rate limit, permission, then the handler. A handler that answers synchronously (most do) is answered
   * without a promise of our own in between: the adapter's `await` then resumes at once, and the reply
   * leaves before the SDK's own follow-up work (Matrix: building the next /sync request) gets its turn.
   */
  private invokeTimed(command: CommandDef, args: Args, msg: IncomingMessage, prefix: string, started: number): Reply | null | Promise<Reply | null> {
    const permission = permissionOf(command, args.subcommand);
    return this.limited(msg, started, command.name, () =>
      permission === 'everyone' ? this.run(command, args, msg, prefix, started) : this.runGated(permission, command, args, msg, prefix, started),
    );
  }

  private async runGated(
    permission: 'manager' | 'admin',
    command: CommandDef,
    args: Args,
    msg: IncomingMessage,
    prefix: string,
    started: number,
  ): Promise<Reply> {
    if (!(await this.allowed(msg, permission))) {
      const what = `${prefix}${[command.name, args.subcommand].filter(Boolean).join(' ')}`;
      const who =
        permission === 'admin'
          ? `Only the bot's administrators may use ${what}: it acts on the whole bot.`
          : `Only people who manage this channel or room may use ${what}.`;
      return this.finish(msg, command.name, 'denied', started, replies.denied(who));
    }
    return this.run(command, args, msg, prefix, started);
  }

  /** Runs the handler; its errors (thrown, or a rejected promise) become a short error reply and one log line. */
  private run(command: CommandDef, args: Args, msg: IncomingMessage, prefix: string, started: number): Reply | Promise<Reply> {
    const { knowledge, search } = this.opts.knowledge.current;
    const ctx: CommandContext = { knowledge, search, message: msg, prefix, commands: this.commands, services: this.services };
    let out: Reply | Promise<Reply>;
    try {
      out = command.run(ctx, args);
    } catch (err) {
      return this.failed(command, msg, started, err);
    }
    if (typeof (out as Partial<Promise<Reply>> | undefined)?.then === 'function') {
      return Promise.resolve(out).then(
        (reply) => this.answered(command, msg, started, reply),
        (err: unknown) => this.failed(command, msg, started, err),
      );
    }
    return this.answered(command, msg, started, out as Reply);
  }

  private answered(command: CommandDef, msg: IncomingMessage, started: number, reply: Reply): Reply {
    const outcome: Outcome =
      reply.kind === 'no-match' ? 'no-match' : reply.kind === 'usage' ? 'usage' : reply.kind === 'denied' ? 'denied' : reply.kind === 'error' ? 'error' : 'ok';
    return this.finish(msg, command.name, outcome, started, reply);
  }

  private failed(command: CommandDef, msg: IncomingMessage, started: number, err: unknown): Reply {
    this.opts.logger.error({ err, command: command.name, platform: msg.platform }, 'command failed');
    return this.finish(
      msg,
      command.name,
      'error',
      started,
      replies.error('Something went wrong on my side while answering that. It has been logged; please try again later.'),
    );
  }

  private async allowed(msg: IncomingMessage, permission: 'manager' | 'admin'): Promise<boolean> {
    const check = permission === 'admin' ? msg.isAdmin : msg.canManage;
    if (typeof check !== 'function') return check === true;
    try {
      return await check();
    } catch (err) {
      this.opts.logger.warn({ err, platform: msg.platform }, 'permission check failed; refusing');
      return false;
    }
  }

  /** Runs `answer` if the user's rate limit allows; one "slow down", then silence. Synchronous while the limiter is (in memory). */
  private limited(
    msg: IncomingMessage,
    started: number,
    command: string,
    answer: () => Reply | null | Promise<Reply | null>,
  ): Reply | null | Promise<Reply | null> {
    const decision = msg.unlimited ? 'allow' : this.limiter.take(`${msg.platform}:${msg.userId}`);
    const go = (d: RateDecision) => {
      const refused = this.refusal(d, msg, started, command);
      return refused === undefined ? answer() : refused;
    };
    return decision instanceof Promise ? decision.then(go) : go(decision);
  }

  /** Undefined when the user's rate limit allows an answer; otherwise the answer instead: one "slow down", then silence (null). */
  private refusal(decision: RateDecision, msg: IncomingMessage, started: number, command: string): Reply | null | undefined {
    if (decision === 'allow') return undefined;
    if (decision === 'warn') {
      return this.finish(msg, command, 'rate-limited', started, {
        kind: 'rate-limited',
        summary: 'You are sending messages faster than I answer them. Please slow down; I will answer again in a little while.',
        private: true,
      });
    }
    this.finish(msg, command, 'dropped', started, null);
    return null;
  }

  private finish<R extends Reply | null>(msg: IncomingMessage, command: string, outcome: Outcome, started: number, reply: R): R {
    const ms = performance.now() - started;
    this.opts.logger.info({ platform: msg.platform, command, outcome, ms: Math.round(ms * 1000) / 1000 }, 'handled');
    this.opts.onHandled?.({ platform: msg.platform, command, outcome, ms });
    return reply;
  }
}
