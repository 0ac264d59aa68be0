import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

/**
 * The optional HTTP listener: /healthz (alive), /readyz (knowledge loaded
 * and every adapter connected, else 503 with the reasons), /metrics.
 */
export async function startHttp(opts: { port: number; host: string; metrics: Metrics; readiness: () => Readiness; logger: Logger }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method not allowed' });
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') {
      const r = opts.readiness();
      return json(r.ready ? 200 : 503, r.ready ? { status: 'ready' } : { status: 'not ready', reasons: r.reasons });
    }
    if (path === '/metrics') {
      opts.metrics.registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': opts.metrics.registry.contentType });
          res.end(text);
        })
        .catch((err: unknown) => {
          opts.logger.error({ err }, 'metrics failed');
          json(500, { error: 'metrics failed' });
        });
      return;
    }
    json(404, { error: 'not found' });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  opts.logger.info({ address: server.address() }, 'http listening (/healthz, /readyz, /metrics)');
  return server;
}
