/**
 * Quiet logging for matrix-bot-sdk in tests. The SDK logs through a global `LogService`; at its default
 * level it prints every request, and even at ERROR it prints every Matrix error body it receives
 * (`MatrixHttpClient`), which includes the expected 404 for `m.direct` at `start()` and every injected failure.
 */
import { LogLevel, LogService, type ILogger } from 'matrix-bot-sdk';

/**
 * Set the SDK to ERROR level with a logger that drops the `MatrixHttpClient` error-body lines (the
 * caller sees those errors as rejected promises anyway) and prints other errors to stderr.
 * Global and idempotent.
 */
export function quietMatrixSdkLogs(): void {
  const drop = (): void => {};
  const logger: ILogger = {
    trace: drop,
    debug: drop,
    info: drop,
    warn: drop,
    error: (module: string, ...messageOrObject: any[]) => {
      if (module === 'MatrixHttpClient') return;
      console.error(`[matrix-bot-sdk] ${module}:`, ...messageOrObject);
    },
  };
  LogService.setLogger(logger);
  LogService.setLevel(LogLevel.ERROR);
}
