import { z } from 'zod';
import { registerSecrets } from './log.js';
import { StartupError } from './startup-error.js';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off']).transform((v) => ['true', '1', 'yes', 'on'].includes(v));
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optional = <T extends z.ZodTypeAny>(schema: T) => schema.optional();

/**
 * Every environment variable the bot reads, with defaults. `.env.example`
 * and the README list the same set.
 */
const schema = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  KNOWLEDGE_DIR: z.string().min(1).default('knowledge'),
  KNOWLEDGE_WATCH: bool.default(true),
  DATA_DIR: z.string().min(1).default('data'),
  MAX_INPUT_CHARS: int(10, 100_000).default(2000),
  RATE_LIMIT_BURST: int(1, 1000).default(5),
  RATE_LIMIT_PER_MINUTE: int(1, 60_000).default(20),

  DISCORD_TOKEN: optional(z.string().min(1)),
  DISCORD_API_URL: optional(z.url({ protocol: /^https?$/ })),
  DISCORD_GUILD_ID: optional(z.string().regex(/^\d{15,25}$/, 'must be a Discord server (guild) id: digits only')),

  MATRIX_HOMESERVER_URL: optional(z.url({ protocol: /^https?$/ })),
  MATRIX_ACCESS_TOKEN: optional(z.string().min(1)),
  MATRIX_COMMAND_PREFIX: z.string().min(1).max(5).regex(/^\S+$/, 'must not contain spaces').default('!'),
  MATRIX_INVITE_ALLOW: optional(z.string()),
  MATRIX_GRACE_SECONDS: int(0, 86_400).default(300),
  /** Unset: on when the access token belongs to a device. */
  MATRIX_E2EE: optional(bool),

  DIGEST_MIN_INTERVAL_SECONDS: int(1, 31_536_000).default(3600),
  DIGEST_MAX_PER_CHANNEL: int(1, 1000).default(10),
  DIGEST_CATCHUP_GRACE_SECONDS: int(0, 31_536_000).default(3600),

  BOT_ADMINS: optional(
    z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .refine(
        (ids) => ids.every((id) => /^\d{15,25}$/.test(id) || /^@[^:\s]+:\S+$/.test(id)),
        'must be a comma-separated list of Discord user ids (digits) and Matrix user ids (@name:server)',
      ),
  ),

  HTTP_PORT: optional(int(0, 65_535)),
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),

  DATABASE_URL: optional(z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// URL')),
  /** Claims and roles (gateway, Matrix) are held this long without renewal; renewed every quarter of it. */
  REPLICA_LEASE_SECONDS: int(2, 300).default(20),
  DISCORD_PUBLIC_KEY: optional(z.string().regex(/^[0-9a-fA-F]{64}$/, "must be the application's public key (64 hex digits)")),
});

export type Config = z.infer<typeof schema>;

/** Thrown for an invalid environment; the message names every bad variable. */
export class ConfigError extends StartupError {
  override name = 'ConfigError';
}

/** Validates the environment; never echoes values (they may be secrets). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // A variable that is set but blank is a mistake (an empty DISCORD_TOKEN would silently run the console,
  // HTTP_PORT=" " would listen on a random port): named, never treated as unset.
  const blank = Object.keys(schema.shape).filter((k) => env[k] !== undefined && env[k]!.trim() === '');
  const result = schema.safeParse(env);
  if (blank.length > 0 || !result.success) {
    const issues = result.success ? [] : result.error.issues.filter((i) => !blank.includes(String(i.path[0])));
    const problems = [...blank.map((k) => `${k}: is set but blank (unset it, or give it a value)`), ...issues.map((i) => `${i.path.join('.')}: ${i.message}`)];
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const c = result.data;
  if (c.MATRIX_ACCESS_TOKEN && !c.MATRIX_HOMESERVER_URL)
    throw new ConfigError('invalid configuration: MATRIX_HOMESERVER_URL: required when MATRIX_ACCESS_TOKEN is set');
  if (c.MATRIX_HOMESERVER_URL && !c.MATRIX_ACCESS_TOKEN)
    throw new ConfigError('invalid configuration: MATRIX_ACCESS_TOKEN: required when MATRIX_HOMESERVER_URL is set');
  if (c.DISCORD_PUBLIC_KEY && c.HTTP_PORT === undefined)
    throw new ConfigError('invalid configuration: DISCORD_PUBLIC_KEY: needs HTTP_PORT (POST /interactions is served on the HTTP listener)');
  if (c.DATABASE_URL && c.MATRIX_E2EE === true) {
    // The crypto store is a local directory of one replica: it cannot follow the Matrix role to another one.
    throw new ConfigError(
      'invalid configuration: MATRIX_E2EE: end-to-end encryption cannot be used with DATABASE_URL (several replicas): its keys live on one machine and cannot follow the Matrix role; unset one of them',
    );
  }
  registerSecrets(c.DISCORD_TOKEN, c.MATRIX_ACCESS_TOKEN, c.DATABASE_URL);
  return c;
}

/** True when some chat platform is configured (then the console adapter stays off). */
export function hasChatAdapter(c: Config): boolean {
  return Boolean(c.DISCORD_TOKEN || c.MATRIX_ACCESS_TOKEN);
}
