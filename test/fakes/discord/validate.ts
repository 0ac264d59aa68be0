/**
 * A subset of Discord's server-side validation, so tests catch payloads the real API would reject
 * (documented limits: https://discord.com/developers/docs/resources/message#create-message and
 * https://discord.com/developers/docs/interactions/application-commands).
 * Each validator returns `null` when valid, else the JSON error body Discord would return with status 400.
 */
import { formError } from './payloads.js';

type ErrorBody = Record<string, unknown>;

const tooLong = (path: string, max: number): ErrorBody => formError(path, 'BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`);
const required = (path: string): ErrorBody => formError(path, 'BASE_TYPE_REQUIRED', 'This field is required');
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * Validate a message create/edit body (content, embeds, nonce). `prefix` is prepended to error paths
 * (e.g. `data.` for interaction callbacks). `hasFiles` counts uploaded files as content.
 * `partial` (edits) skips the "empty message" check.
 */
export function validateMessageBody(body: any, o: { prefix?: string; hasFiles?: boolean; partial?: boolean } = {}): ErrorBody | null {
  const p = o.prefix ?? '';
  if (body === null || typeof body !== 'object') return { message: 'Cannot send an empty message', code: 50006 };
  if (body.content != null && typeof body.content !== 'string') {
    return formError(`${p}content`, 'BASE_TYPE_BAD_TYPE', 'Must be a string.');
  }
  if (str(body.content).length > 2000) return tooLong(`${p}content`, 2000);
  if (body.nonce != null && String(body.nonce).length > 25) return tooLong(`${p}nonce`, 25);

  const embeds: any[] = Array.isArray(body.embeds) ? body.embeds : [];
  if (embeds.length > 10) return tooLong(`${p}embeds`, 10);
  let total = 0;
  for (const [i, e] of embeds.entries()) {
    const ep = `${p}embeds.${i}`;
    const checks: [string, unknown, number][] = [
      ['title', e?.title, 256],
      ['description', e?.description, 4096],
      ['footer.text', e?.footer?.text, 2048],
      ['author.name', e?.author?.name, 256],
    ];
    for (const [field, value, max] of checks) {
      if (str(value).length > max) return tooLong(`${ep}.${field}`, max);
      total += str(value).length;
    }
    const fields: any[] = Array.isArray(e?.fields) ? e.fields : [];
    if (fields.length > 25) return tooLong(`${ep}.fields`, 25);
    for (const [j, f] of fields.entries()) {
      if (!str(f?.name)) return required(`${ep}.fields.${j}.name`);
      if (!str(f?.value)) return required(`${ep}.fields.${j}.value`);
      if (str(f.name).length > 256) return tooLong(`${ep}.fields.${j}.name`, 256);
      if (str(f.value).length > 1024) return tooLong(`${ep}.fields.${j}.value`, 1024);
      total += str(f.name).length + str(f.value).length;
    }
  }
  if (total > 6000) return formError(`${p}embeds`, 'MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000');

  if (!o.partial) {
    const hasSomething =
      str(body.content).length > 0 ||
      embeds.length > 0 ||
      (Array.isArray(body.components) && body.components.length > 0) ||
      (Array.isArray(body.sticker_ids) && body.sticker_ids.length > 0) ||
      body.poll != null ||
      o.hasFiles === true;
    if (!hasSomething) return { message: 'Cannot send an empty message', code: 50006 };
  }
  return null;
}

/** Validate autocomplete choices (callback type 8): at most 25, names 1-100 chars, string values <= 100. */
export function validateAutocompleteChoices(choices: unknown): ErrorBody | null {
  if (!Array.isArray(choices)) return required('data.choices');
  if (choices.length > 25) return tooLong('data.choices', 25);
  for (const [i, c] of choices.entries()) {
    const name = str(c?.name);
    if (name.length < 1 || name.length > 100) return tooLong(`data.choices.${i}.name`, 100);
    if (typeof c?.value === 'string' && c.value.length > 100) return tooLong(`data.choices.${i}.value`, 100);
  }
  return null;
}

const NAME_RE = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

function validateOptions(options: unknown, path: string): ErrorBody | null {
  if (options == null) return null;
  if (!Array.isArray(options)) return formError(path, 'BASE_TYPE_BAD_TYPE', 'Must be an array.');
  if (options.length > 25) return tooLong(path, 25);
  let sawOptional = false;
  const names = new Set<string>();
  for (const [i, opt] of options.entries()) {
    const op = `${path}.${i}`;
    const name = str(opt?.name);
    if (!NAME_RE.test(name) || name !== name.toLowerCase()) {
      return formError(`${op}.name`, 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
    }
    if (names.has(name)) return formError(`${op}.name`, 'APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS', 'Option name already exists');
    names.add(name);
    const desc = str(opt?.description);
    if (desc.length < 1 || desc.length > 100) return tooLong(`${op}.description`, 100);
    if (opt.type === 1 || opt.type === 2) {
      const nested = validateOptions(opt.options, `${op}.options`);
      if (nested) return nested;
      continue;
    }
    if (opt.required) {
      if (sawOptional) {
        return formError(op, 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID', 'Required options must be placed before non-required options');
      }
    } else sawOptional = true;
    if (Array.isArray(opt.choices) && opt.choices.length > 25) return tooLong(`${op}.choices`, 25);
    if (Array.isArray(opt.choices) && opt.choices.length > 0 && opt.autocomplete) {
      return formError(`${op}.autocomplete`, 'APPLICATION_COMMAND_OPTIONS_AUTOCOMPLETE_WITH_CHOICES', 'Autocomplete cannot be set with choices');
    }
  }
  return null;
}

/** Validate one application command create/edit body (chat-input commands need a lowercase name and a description). */
export function validateCommand(cmd: any, path = ''): ErrorBody | null {
  const p = path ? `${path}.` : '';
  if (cmd === null || typeof cmd !== 'object') return formError(path || '_root', 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
  const type = cmd.type ?? 1;
  const name = str(cmd.name);
  if (!name) return required(`${p}name`);
  if (type === 1 && (!NAME_RE.test(name) || name !== name.toLowerCase())) {
    return formError(`${p}name`, 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
  }
  if (name.length > 32) return tooLong(`${p}name`, 32);
  if (type === 1) {
    const desc = str(cmd.description);
    if (desc.length < 1 || desc.length > 100) return tooLong(`${p}description`, 100);
    return validateOptions(cmd.options, `${p}options`);
  }
  return null;
}

/** Validate a bulk overwrite (PUT) body: an array of commands with unique (type, name) pairs, at most 100 chat-input commands. */
export function validateCommandList(list: unknown): ErrorBody | null {
  if (!Array.isArray(list)) return formError('_root', 'BASE_TYPE_BAD_TYPE', 'Must be an array.');
  if (list.filter((c: any) => (c?.type ?? 1) === 1).length > 100) return tooLong('_root', 100);
  const seen = new Set<string>();
  for (const [i, cmd] of list.entries()) {
    const err = validateCommand(cmd, String(i));
    if (err) return err;
    const key = `${cmd.type ?? 1}:${cmd.name}`;
    if (seen.has(key)) return formError(`${i}.name`, 'APPLICATION_COMMANDS_DUPLICATE_NAME', `Application command names must be unique`);
    seen.add(key);
  }
  return null;
}
