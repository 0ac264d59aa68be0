import type { Knowledge } from '../knowledge/model.js';
import type { SearchIndex } from '../knowledge/search.js';
import type { Reply } from './reply.js';

export type OptionType = 'string' | 'integer' | 'boolean';

/** A typed option of a command or subcommand. */
export interface OptionDef {
  readonly name: string;
  readonly description: string;
  readonly type: OptionType;
  readonly required?: boolean;
  readonly choices?: readonly string[];
  /** Where autocomplete takes its values from. */
  readonly autocomplete?: 'topics';
  /** Common values offered by text completion (console Tab); other values are accepted too. */
  readonly suggestions?: readonly string[];
  readonly maxLength?: number;
}

/**
 * Who may run a command: anyone, people who manage the channel/room, or (for actions on the whole bot)
 * the bot's administrators: the Discord application's owner or team members, and the ids in BOT_ADMINS.
 */
export type Permission = 'everyone' | 'manager' | 'admin';

export interface SubcommandDef {
  readonly name: string;
  readonly description: string;
  readonly options?: readonly OptionDef[];
  readonly permission?: Permission;
  /** Replies go to the asker only (Discord: ephemeral). */
  readonly private?: boolean;
}

export type ArgValue = string | number | boolean;
export interface Args {
  readonly subcommand?: string;
  readonly [name: string]: ArgValue | undefined;
}

/** A message as the core sees it, whatever platform it came from. */
export interface IncomingMessage {
  readonly platform: string;
  readonly text: string;
  readonly userId: string;
  /** Where a reply or digest goes: a Discord channel id, a Matrix room id, "console". */
  readonly channelId: string;
  /** The message was addressed to the bot (mention, DM, console): free text is a question. */
  readonly addressed: boolean;
  /** The sender manages this channel or room (platform-resolved; console: true). A function is asked only when a command needs it. */
  readonly canManage?: boolean | (() => Promise<boolean>);
  /** The sender administers the whole bot (platform-resolved; console and CLI: true). A function is asked only when a command needs it. */
  readonly isAdmin?: boolean | (() => Promise<boolean>);
  /** The local operator (console, CLI): no rate limit. */
  readonly unlimited?: boolean;
  /** A direct conversation with the bot (Discord DM, two-person Matrix room). */
  readonly direct?: boolean;
}

/** What a handler gets: the current knowledge and the dependencies it asks for, never a platform SDK. */
export interface CommandContext {
  readonly knowledge: Knowledge;
  readonly search: SearchIndex;
  readonly message: IncomingMessage;
  /** The command prefix the user typed on this platform ("/" or "!"), for replies that name commands. */
  readonly prefix: string;
  readonly commands: readonly CommandDef[];
  readonly services: Services;
}

/**
 * A dependency a command asks for by name. The command (or the feature it fronts) declares the key with the
 * narrow type it needs; the composition root provides the value. The core names no feature.
 */
export interface ServiceKey<T> {
  readonly name: string;
  /** Carries the type only. */
  readonly _type?: T;
}

/** Declares a {@link ServiceKey}. */
export function serviceKey<T>(name: string): ServiceKey<T> {
  return { name };
}

/** The dependencies the composition root provides; a command sees only what it asks for (absent: "not available here"). */
export class Services {
  private readonly byName = new Map<string, unknown>();

  provide<T>(key: ServiceKey<T>, value: T): this {
    this.byName.set(key.name, value);
    return this;
  }

  get<T>(key: ServiceKey<T>): T | undefined {
    return this.byName.get(key.name) as T | undefined;
  }
}

/**
 * A chat command: its platform-neutral definition and its handler. Discord
 * registrations, the text parser, help and autocomplete are derived from it.
 */
export interface CommandDef {
  readonly name: string;
  readonly description: string;
  readonly options?: readonly OptionDef[];
  readonly subcommands?: readonly SubcommandDef[];
  readonly permission?: Permission;
  /** Text aliases ("board" for "status"). */
  readonly aliases?: readonly string[];
  readonly examples: readonly string[];
  /** Discord adds a `hide` (ephemeral) option to commands that reply; default true. */
  readonly hideable?: boolean;
  run(ctx: CommandContext, args: Args): Reply | Promise<Reply>;
}

/** The value type of one option: number, boolean, one of its choices, or string. */
export type ValueOf<O extends OptionDef> = O['type'] extends 'integer'
  ? number
  : O['type'] extends 'boolean'
    ? boolean
    : O['choices'] extends readonly (infer C extends string)[]
      ? C
      : string;

type Flat<T> = { readonly [K in keyof T]: T[K] };

/** The arguments a list of option declarations produces: required options always present, the others optional. */
export type OptionArgs<Opts> = Opts extends readonly OptionDef[]
  ? Flat<
      { readonly [O in Opts[number] as O['required'] extends true ? O['name'] : never]: ValueOf<O> } & {
        readonly [O in Opts[number] as O['required'] extends true ? never : O['name']]?: ValueOf<O>;
      }
    >
  : Record<never, never>;

type SubcommandArgs<S> = S extends SubcommandDef ? Flat<{ readonly subcommand: S['name'] } & OptionArgs<S['options']>> : never;

/**
 * The arguments a command's handler receives, derived from its declarations: one variant per subcommand
 * (told apart by `subcommand`), else its options. Renaming an option breaks the handler at compile time.
 */
export type ArgumentsOf<O extends readonly OptionDef[], S extends readonly SubcommandDef[]> = [S[number]] extends [never]
  ? Flat<{ readonly subcommand?: undefined } & OptionArgs<O>>
  : SubcommandArgs<S[number]>;

/**
 * Declares a command: the literal types of its options and subcommands are kept (`const`), and the
 * handler's arguments are typed from them ({@link ArgumentsOf}).
 */
export function defineCommand<const O extends readonly OptionDef[] = readonly [], const S extends readonly SubcommandDef[] = readonly []>(
  def: Omit<CommandDef, 'run' | 'options' | 'subcommands'> & {
    readonly options?: O;
    readonly subcommands?: S;
    run(ctx: CommandContext, args: ArgumentsOf<O, S>): Reply | Promise<Reply>;
  },
): CommandDef {
  return def;
}

/** The options of a command, or of one of its subcommands. */
export function optionsOf(def: CommandDef, subcommand?: string): readonly OptionDef[] {
  if (def.subcommands) return def.subcommands.find((s) => s.name === subcommand)?.options ?? [];
  return def.options ?? [];
}

/** The permission needed for an invocation (a subcommand's own permission wins). */
export function permissionOf(def: CommandDef, subcommand?: string): Permission {
  const sub = def.subcommands?.find((s) => s.name === subcommand);
  return sub?.permission ?? def.permission ?? 'everyone';
}

/** One-line usage of a command, e.g. `/status [topic]`. */
export function usageOf(def: CommandDef, prefix: string): string {
  const opts = (list: readonly OptionDef[] = []) => list.map((o) => (o.required ? `<${o.name}>` : `[${o.name}]`)).join(' ');
  if (def.subcommands) {
    return def.subcommands.map((s) => `${prefix}${def.name} ${s.name} ${opts(s.options)}`.trim()).join(' | ');
  }
  return `${prefix}${def.name} ${opts(def.options)}`.trim();
}
