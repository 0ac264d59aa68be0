import { ApplicationCommandOptionType, ApplicationIntegrationType, PermissionFlagsBits } from 'discord.js';
import type {
  APIApplicationCommandOption,
  ApplicationCommand,
  ApplicationCommandData,
  ReadonlyCollection,
  RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { CommandDef, OptionDef, SubcommandDef } from '../../core/command.js';

/** Chat-input (slash) commands only: no context-menu entries are derived. */
type Body = RESTPostAPIChatInputApplicationCommandsJSONBody;

const TYPE = {
  string: ApplicationCommandOptionType.String,
  integer: ApplicationCommandOptionType.Integer,
  boolean: ApplicationCommandOptionType.Boolean,
} as const;

/** The `hide` option every replying command gets: the answer is ephemeral. */
export const HIDE_OPTION = { type: ApplicationCommandOptionType.Boolean, name: 'hide', description: 'Only you see the answer', required: false } as const;

function option(o: OptionDef): APIApplicationCommandOption {
  const base = { name: o.name, description: o.description.slice(0, 100), required: Boolean(o.required) };
  if (o.type === 'string') {
    return {
      ...base,
      type: TYPE.string,
      ...(o.maxLength ? { max_length: Math.min(o.maxLength, 6000) } : {}),
      ...(o.choices ? { choices: o.choices.map((c) => ({ name: c, value: c })) } : {}),
      ...(o.autocomplete && !o.choices ? { autocomplete: true } : {}),
    } as APIApplicationCommandOption;
  }
  return { ...base, type: TYPE[o.type] } as APIApplicationCommandOption;
}

/** Required options first (Discord requires it), then the optional ones, then `hide`. */
function options(list: readonly OptionDef[] = [], hide: boolean): APIApplicationCommandOption[] {
  const sorted = [...list.filter((o) => o.required), ...list.filter((o) => !o.required)].map(option);
  return hide ? [...sorted, HIDE_OPTION] : sorted;
}

function subcommand(s: SubcommandDef): APIApplicationCommandOption {
  return {
    type: ApplicationCommandOptionType.Subcommand,
    name: s.name,
    description: s.description.slice(0, 100),
    options: options(s.options, !s.private),
  } as APIApplicationCommandOption;
}

/**
 * Slash command registrations derived from the command definitions: no
 * second list by hand. Commands that (partly) need a manager get
 * `default_member_permissions` = ManageChannels (bot-wide ones: Administrator); the handler checks again.
 */
export function slashCommands(defs: readonly CommandDef[]): Body[] {
  return defs.map((d): Body => {
    const needsManager = d.permission === 'manager' || Boolean(d.subcommands?.some((s) => s.permission === 'manager'));
    const needsAdmin = d.permission === 'admin';
    return {
      name: d.name,
      description: d.description.slice(0, 100),
      options: d.subcommands ? d.subcommands.map(subcommand) : options(d.options, d.hideable !== false),
      // Bot-wide commands are shown to server administrators only; the handler checks the bot's own admins.
      default_member_permissions: needsAdmin
        ? PermissionFlagsBits.Administrator.toString()
        : needsManager
          ? PermissionFlagsBits.ManageChannels.toString()
          : null,
      // Discord's default, spelled out: a registered command reports it, and ApplicationCommand#equals compares it.
      integration_types: [ApplicationIntegrationType.GuildInstall],
    };
  });
}

/** True when the registered commands are exactly the wanted ones (discord.js `ApplicationCommand#equals`, any order). */
export function upToDate(registered: ReadonlyCollection<string, ApplicationCommand>, wanted: readonly Body[]): boolean {
  return registered.size === wanted.length && wanted.every((w) => registered.find((r) => r.name === w.name)?.equals(w as ApplicationCommandData) ?? false);
}
