import http from 'node:http';

/**
 * The HTTP server around the app, with the timeouts that keep slow clients from holding
 * connections: a request must be complete (headers and body) within `requestTimeoutMs` (Node
 * answers 408 and closes), its headers within `headersTimeoutMs`, and an idle keep-alive
 * connection is closed after `keepAliveTimeoutMs`. main.ts and the tests use the same server.
 */
export interface HttpServerOptions {
  requestTimeoutMs?: number;
  headersTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
}

export function createHttpServer(handler: http.RequestListener, options: HttpServerOptions = {}): http.Server {
  const requestTimeout = options.requestTimeoutMs ?? 60_000;
  const server = http.createServer({
    requestTimeout,
    headersTimeout: Math.min(options.headersTimeoutMs ?? 20_000, requestTimeout),
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
    // How often Node looks for requests past their timeout (default 30 s: too coarse for 60 s).
    connectionsCheckingInterval: 1_000,
  }, handler);
  return server;
}
