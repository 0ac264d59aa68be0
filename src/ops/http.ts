import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { Interactions } from './interactions.js';
import type { Metrics } from './metrics.js';
import { StartupError } from '../startup-error.js';

export interface Readiness {
  ready: boolean;
  reasons: string[];
  /** Several replicas: the roles this one holds (gateway, matrix), listed in the /readyz body. */
  roles?: string[];
}

/** Discord's interaction payloads are small; anything larger is not one. */
const MAX_INTERACTION_BYTES = 256 * 1024;

/**
 * The optional HTTP listener: /healthz (alive), /readyz (knowledge loaded
 * and every adapter connected, else 503 with the reasons), /metrics.
 */
export async function startHttp(opts: {
  port: number;
  host: string;
  metrics: Metrics;
  readiness: () => Readiness;
  logger: Logger;
  interactions?: Interactions;
}): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/interactions' && opts.interactions && req.method === 'POST') return interaction(opts.interactions, req, json, opts.logger);
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method not allowed' });
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') {
      const r = opts.readiness();
      const roles = r.roles ? { roles: r.roles } : {};
      return json(r.ready ? 200 : 503, r.ready ? { status: 'ready', ...roles } : { status: 'not ready', reasons: r.reasons, ...roles });
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
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'is in use by another process'
          : err.code === 'EACCES'
            ? 'needs privileges the bot does not have'
            : `cannot be used (${err.code ?? err.message})`;
      reject(new StartupError(`HTTP_PORT: port ${opts.port} on HTTP_HOST ${opts.host} ${why} (${err.code ?? 'error'}).`));
    });
    server.listen(opts.port, opts.host, () => resolve());
  });
  opts.logger.info({ address: server.address() }, 'http listening (/healthz, /readyz, /metrics)');
  return server;
}

/** Reads a POST /interactions body (bounded) and answers it. */
function interaction(handler: Interactions, req: IncomingMessage, json: (status: number, body: unknown) => void, logger: Logger): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_INTERACTION_BYTES) {
      json(413, { error: 'body too large' });
      req.destroy();
    } else chunks.push(c);
  });
  req.on('end', () => {
    if (size > MAX_INTERACTION_BYTES) return;
    handler
      .handle(req.headers, Buffer.concat(chunks))
      .then((a) => json(a.status, a.body))
      .catch((err: unknown) => {
        logger.error({ err }, 'interaction failed');
        json(500, { error: 'interaction failed' });
      });
  });
}
