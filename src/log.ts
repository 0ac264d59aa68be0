import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { PrettyOptions } from 'pino-pretty';

/**
 * pino-pretty, loaded when a logger writes to a terminal: piped and production logs never use it, and loading it
 * anyway cost start-up time and resident memory in every process.
 */
function pretty(options: PrettyOptions): DestinationStream {
  return (createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty')).build(options);
}

/**
 * Top-level fields whose values never reach a log line. Only errors carry nested objects we did not build
 * (SDK errors with request options, headers, bodies): those are cleaned by the `err` serializer below,
 * which runs only when an error is logged, so the line written for every handled message pays nothing
 * for wildcard paths (pino's `*.x` redaction cost ~7 µs per line, measured).
 */
export const REDACT_PATHS = [
  'token',
  'accessToken',
  'access_token',
  'password',
  'DISCORD_TOKEN',
  'MATRIX_ACCESS_TOKEN',
  'headers.authorization',
  'req.headers.authorization',
];

const SECRET_KEY = /^(token|access_?token|password|authorization|discord_token|matrix_access_token|secret)$/i;
/** Keys of SDK errors that hold whole request setups (with credentials): dropped. */
const DROPPED_KEYS = new Set(['requestOptions', 'config']);

// A credential after the word that introduces it: `access_token=…`, `Bearer …`, `Bot …` (only a token-shaped value:
// "(Bot → Reset Token)" and "at startBot (…)" are words, not secrets), or a JSON access_token field.
const SECRET_IN_TEXT = /(access_token=|"access_token":\s*")[^\s&"']+|(\b(?:Bearer|Bot) )[A-Za-z0-9._~+/=-]{16,}/g;
// Token-shaped strings wherever they appear: Discord bot tokens (three base64url parts) and Matrix access tokens.
const TOKEN_SHAPED = /\b[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{20,}\b|\b(?:syt|mat|mct)_[A-Za-z0-9_]{10,}/g;
// An interaction's webhook token in a Discord URL: /interactions/<id>/<token>/… or /webhooks/<app>/<token>.
const TOKEN_IN_PATH = /(\/(?:interactions|webhooks)\/\d+\/)[A-Za-z0-9._:-]{20,}/g;

/** The configured credentials (DISCORD_TOKEN, MATRIX_ACCESS_TOKEN): scrubbed wherever they appear, whatever their shape. */
const knownSecrets = new Set<string>();

/** Registers credential values that `scrub` removes verbatim (values shorter than 8 characters are ignored: too likely to be words). */
export function registerSecrets(...values: (string | undefined)[]): void {
  for (const v of values) if (v && v.length >= 8) knownSecrets.add(v);
}

/** Removes secrets from text: the configured credentials, token-shaped strings and credentials in URLs, headers or messages. */
export function scrub(text: string): string {
  let out = text;
  for (const secret of knownSecrets) if (out.includes(secret)) out = out.split(secret).join('[Redacted]');
  return out
    .replace(SECRET_IN_TEXT, (_m, key: string | undefined, word: string | undefined) => `${key ?? word}[Redacted]`)
    .replace(TOKEN_IN_PATH, '$1[Redacted]')
    .replace(TOKEN_SHAPED, '[Redacted]');
}

/** A copy of `v` with secret-named keys censored, request setups dropped and strings scrubbed (depth-limited). */
function clean(v: unknown, depth: number): unknown {
  if (typeof v === 'string') return scrub(v);
  if (v === null || typeof v !== 'object') return v;
  if (depth > 6) return '[Too deep]';
  if (Array.isArray(v)) return v.map((x) => clean(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (DROPPED_KEYS.has(k)) continue;
    out[k] = SECRET_KEY.test(k) ? '[Redacted]' : clean(x, depth + 1);
  }
  return out;
}

function errSerializer(err: unknown): unknown {
  return clean(pino.stdSerializers.err(err as Error), 0);
}

/**
 * The log level of a session at an interactive terminal: `warn` unless LOG_LEVEL is set, so that
 * no log line interrupts the conversation.
 */
export function terminalLogLevel(configured: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.LOG_LEVEL ? configured : 'warn';
}

/** A log line in a single short line: level, message, and an error's message. */
function oneLine(log: Record<string, unknown>, messageKey: string): string {
  const err = (log.err ?? log.error) as { message?: unknown } | undefined;
  const reason = typeof log.reason === 'string' ? log.reason : typeof err?.message === 'string' ? err.message : undefined;
  const msg = String(log[messageKey] ?? '');
  return reason ? `${msg}: ${reason.split('\n')[0]}` : msg;
}

export interface LoggerOptions {
  /** On a terminal, one short line per entry (the interactive console) instead of pino-pretty's blocks. */
  oneLine?: boolean;
}

/**
 * JSON logs to stderr (stdout belongs to console replies); readable
 * (pino-pretty) when stderr is a terminal. Writes are synchronous so that
 * nothing is lost on exit.
 */
export function createLogger(level: string, destination: number | string = 2, opts: LoggerOptions = {}): Logger {
  const options = {
    level,
    base: { app: 'kernel-status-bot' },
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    serializers: { err: errSerializer, error: errSerializer },
  };
  if (destination === 2 && process.stderr.isTTY && opts.oneLine) {
    return pino(options, pretty({ destination: 2, sync: true, colorize: true, hideObject: true, translateTime: 'HH:MM:ss', messageFormat: oneLine }));
  }
  if (destination === 2 && process.stderr.isTTY) {
    return pino(options, pretty({ destination: 2, sync: true, colorize: true, ignore: 'pid,hostname,app' }));
  }
  return pino(options, pino.destination({ dest: destination, sync: true }));
}
