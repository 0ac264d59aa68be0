/**
 * A bare matrix-bot-sdk bot: answers every m.text message from someone else with an m.notice "pong".
 * No command parsing, no knowledge base: the baseline for latency/throughput benchmarks against the
 * fake homeserver, and a check that the fake speaks what the real SDK expects.
 */
import { join } from 'node:path';
import { MatrixClient, SimpleFsStorageProvider, LogService } from 'matrix-bot-sdk';
import { quietMatrixSdkLogs } from './logging.js';

/** Handle to a running echo bot. */
export interface EchoBot {
  client: MatrixClient;
  /**
   * Stop syncing and detach the handler. The SDK's `stop()` only sets a flag checked between syncs, so a
   * long poll in flight stays open until the homeserver answers it (fake: `releaseHeldSyncs()` or `close()`).
   */
  stop(): Promise<void>;
}

/**
 * Start the echo bot against `url` with `accessToken`, keeping the SDK's sync token/filter in
 * `storageDir/echo-bot.json`. Resolves after `client.start()`, i.e. before the first /sync completes
 * (use the fake's `waitForSync()` to know the loop is live).
 */
export async function startEchoBot(url: string, accessToken: string, storageDir: string): Promise<EchoBot> {
  quietMatrixSdkLogs();
  const storage = new SimpleFsStorageProvider(join(storageDir, 'echo-bot.json'));
  const client = new MatrixClient(url, accessToken, storage);
  const userId = await client.getUserId();
  const onMessage = async (roomId: string, event: any): Promise<void> => {
    if (event?.sender === userId || event?.content?.msgtype !== 'm.text') return;
    try {
      await client.sendMessage(roomId, { msgtype: 'm.notice', body: 'pong' });
    } catch (e) {
      LogService.error('EchoBot', `failed to answer in ${roomId}:`, e);
    }
  };
  client.on('room.message', onMessage);
  await client.start();
  return {
    client,
    async stop() {
      client.off('room.message', onMessage);
      client.stop();
    },
  };
}
