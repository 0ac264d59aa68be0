import { MatrixError } from 'matrix-bot-sdk';
import { DeliveryError } from '../../digest/port.js';
import { scrub } from '../../log.js';

/**
 * A failed homeserver request as an Error with its HTTP status (0: no answer, a connection error). matrix-bot-sdk
 * throws a MatrixError only for JSON error bodies; a plain-text 502 or an HTML 503 comes out as the raw response
 * object, which is not an Error at all.
 */
export class HomeserverError extends Error {
  override name = 'HomeserverError';
  constructor(
    message: string,
    readonly statusCode: number,
    readonly retryAfterMs?: number,
    readonly errcode?: string,
  ) {
    super(message);
  }

  /** 429, any 5xx whatever its body, and connection errors are worth another attempt. */
  get retryable(): boolean {
    return this.statusCode === 0 || this.statusCode === 429 || this.statusCode >= 500;
  }
}

/** Normalises whatever a matrix-bot-sdk request rejected with. */
export function homeserverError(err: unknown): HomeserverError {
  if (err instanceof HomeserverError) return err;
  if (err instanceof MatrixError) return new HomeserverError(scrub(err.message), err.statusCode, err.retryAfterMs, err.errcode);
  const status = typeof (err as { statusCode?: unknown })?.statusCode === 'number' ? (err as { statusCode: number }).statusCode : 0;
  if (status > 0) return new HomeserverError(`homeserver answered ${status}`, status);
  const e = err as { code?: string; message?: string };
  return new HomeserverError(scrub(e?.code ? `${e.code}: ${e.message ?? ''}` : String(e?.message ?? err)), 0);
}

/** A failed send as a {@link DeliveryError}: 403/404 permanent, 429 after `retry_after_ms`, anything else (any 5xx, any body, no answer) transient. */
export function classifyMatrixError(err: unknown, where: string): DeliveryError {
  const e = homeserverError(err);
  const message = `${where}: ${e.message}`;
  if (e.statusCode === 403 || e.statusCode === 404) return new DeliveryError(message, 'permanent');
  if (e.statusCode === 429) return new DeliveryError(message, 'retry-after', e.retryAfterMs);
  return new DeliveryError(message, 'transient');
}
