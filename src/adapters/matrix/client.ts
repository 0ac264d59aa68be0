/** matrix-bot-sdk's client as the adapter uses it: sync outcomes reported, SDK logs in pino, crypto listeners caught. */
import { LogLevel, LogService, MatrixClient } from 'matrix-bot-sdk';
import type { Logger } from 'pino';
import { scrub } from '../../log.js';
import { homeserverError } from './errors.js';

/**
 * The SDK's client, reporting the outcome of every /sync: the sync loop catches its own errors and backs off
 * 5–15 s, so this is the only place where "the homeserver is not answering" can be seen. A /sync is a long poll
 * (held up to 30 s when nothing happens), so after a failure the next attempt is accompanied by a quick
 * `GET /versions`: its answer shows the homeserver back without waiting for the poll to return.
 */
export class SyncReportingClient extends MatrixClient {
  onSyncResult: (err?: unknown) => void = () => undefined;
  private failing = false;
  protected override doSync(token: string): Promise<unknown> {
    if (this.failing) {
      this.doRequest('GET', '/_matrix/client/versions').then(
        () => this.report(),
        () => undefined, // the /sync itself reports the failure
      );
    }
    return super.doSync(token).then(
      (r: unknown) => {
        this.report();
        return r;
      },
      (err: unknown) => {
        this.report(err);
        throw err;
      },
    );
  }

  private report(err?: unknown): void {
    this.failing = err !== undefined;
    this.onSyncResult(err);
  }
}

const isDecryptionError = (args: unknown[]): boolean => typeof args[0] === 'string' && args[0].startsWith('Decryption error on ');

/** Routes matrix-bot-sdk's own logging into pino (scrubbed), quiet below warnings. */
export function quietSdkLogs(log: Logger): void {
  const fmt = (module: string, args: unknown[]) =>
    scrub(`${module}: ${args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`);
  LogService.setLogger({
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (m: string, ...a: unknown[]) => log.warn({ sdk: true }, fmt(m, a)),
    // An undecryptable event is logged by the adapter, once per session (onUndecryptable).
    error: (m: string, ...a: unknown[]) => void (isDecryptionError(a) || log.error({ sdk: true }, fmt(m, a))),
  });
  LogService.setLevel(LogLevel.WARN);
  LogService.muteModule('Metrics');
}

/**
 * matrix-bot-sdk calls the crypto client's room listeners without awaiting them, and they make requests
 * (room members, device lists): during a homeserver outage each would be an unhandled rejection, which
 * ends the process. Their failures are logged instead; the next membership event tracks the users again.
 */
export function catchCryptoListeners(crypto: NonNullable<MatrixClient['crypto']>, log: Logger): void {
  const onRoomEvent = crypto.onRoomEvent.bind(crypto);
  const onRoomJoin = crypto.onRoomJoin.bind(crypto);
  const failed = (what: string) => (err: unknown) => log.warn({ reason: homeserverError(err).message }, `encryption: ${what} failed`);
  crypto.onRoomEvent = (roomId, event) => onRoomEvent(roomId, event).catch(failed('tracking a room event'));
  crypto.onRoomJoin = (roomId) => onRoomJoin(roomId).catch(failed('tracking a joined room'));
}
