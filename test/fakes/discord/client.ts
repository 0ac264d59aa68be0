/**
 * Client-side helpers for tests that drive the real discord.js Client against the fake server.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Status, type Client } from 'discord.js';

/**
 * `client.destroy()` that is safe while the gateway is reconnecting.
 *
 * @discordjs/ws 1.2.3 ignores destroy() while a shard sleeps before reconnecting (status Idle), and a destroy()
 * that lands while a shard waits for READY schedules a *new* connection; either way the destroyed client
 * reconnects and keeps the process alive. So if a shard is not Ready (e.g. right after `fake.dropGateway()`),
 * wait up to `timeoutMs` for it to become Ready again, then destroy.
 */
export async function destroyClient(client: Client, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const settled = () => client.ws.shards.every((shard) => shard.status === Status.Ready);
  while (client.ws.shards.size > 0 && !settled() && Date.now() < deadline) await sleep(25);
  await client.destroy();
}
