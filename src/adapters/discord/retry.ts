import { DiscordAPIError, HTTPError } from 'discord.js';
import pRetry from 'p-retry';

/**
 * Whether a failed REST call may succeed if sent again: a 5xx (discord.js has already retried it at once) or a
 * connection that failed (reset, refused, closed by the other side, timed out: discord.js retries only
 * ECONNRESET, and at once). Discord's own refusals (4xx, DiscordAPIError) are final.
 */
export function transient(err: unknown): boolean {
  if (err instanceof DiscordAPIError) return false;
  if (err instanceof HTTPError) return err.status >= 500;
  return err instanceof Error;
}

/**
 * Runs `attempt`; if it fails transiently, runs it again with exponential backoff (`retries` more times from
 * `minTimeoutMs`, doubling), and never later than `until` (ms since epoch) when given. The first attempt goes
 * out at once; only a failure pays for setting up the retries. Resending must be safe: callers make the
 * request idempotent (a message's `nonce` with `enforce_nonce`; an interaction is acknowledged once).
 */
export async function withRetries(attempt: () => Promise<unknown>, o: { retries: number; minTimeoutMs: number; until?: number }): Promise<void> {
  const first = attempt();
  try {
    await first;
    return;
  } catch (err) {
    if (!transient(err) || (o.until !== undefined && Date.now() + o.minTimeoutMs >= o.until)) throw err;
  }
  await pRetry((n) => (n === 1 ? first : attempt()), {
    retries: o.retries,
    minTimeout: o.minTimeoutMs,
    factor: 2,
    randomize: true,
    ...(o.until !== undefined ? { maxRetryTime: Math.max(0, o.until - Date.now()) } : {}),
    shouldRetry: ({ error }) => transient(error),
  });
}
