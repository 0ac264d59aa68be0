/** listeningPorts (test/support/listening.ts) reads a process's listening TCP ports from /proc. */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { listeningPorts } from '../support/listening.js';

describe('listeningPorts', () => {
  it('finds the port a server of this process listens on, and not after it closed', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    expect(listeningPorts(process.pid)).toContain(port);
    await new Promise((r) => server.close(r));
    expect(listeningPorts(process.pid)).not.toContain(port);
  });
});
