import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

/** Paths whose values never reach a log line. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'access_token',
  '*.access_token',
  'password',
  '*.password',
  'DISCORD_TOKEN',
  '*.DISCORD_TOKEN',
  'MATRIX_ACCESS_TOKEN',
  '*.MATRIX_ACCESS_TOKEN',
  'headers.authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'req.headers.authorization',
  'err.headers.authorization',
  'err.requestOptions',
  'err.config',
];

const SECRET_IN_TEXT = /(access_token=|Bearer |Bot |"access_token":\s*")[^\s&"']+/g;

/** Removes secrets that SDK errors echo in URLs or headers. */
export function scrub(text: string): string {
  return text.replace(SECRET_IN_TEXT, '$1[Redacted]');
}

function errSerializer(err: unknown): unknown {
  const s = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  for (const k of ['message', 'stack', 'url', 'path'] as const) {
    if (typeof s[k] === 'string') s[k] = scrub(s[k] as string);
  }
  return s;
}

/**
 * JSON logs to stderr (stdout belongs to console replies); readable
 * (pino-pretty) when stderr is a terminal. Writes are synchronous so that
 * nothing is lost on exit.
 */
export function createLogger(level: string, destination: number | string = 2): Logger {
  const options = {
    level,
    base: { app: 'kernel-status-bot' },
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    serializers: { err: errSerializer, error: errSerializer },
  };
  if (destination === 2 && process.stderr.isTTY) {
    return pino(options, pretty({ destination: 2, sync: true, colorize: true, ignore: 'pid,hostname,app' }));
  }
  return pino(options, pino.destination({ dest: destination, sync: true }));
}
