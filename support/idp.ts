import type http from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createIdp, type Idp, type IdpOverrides } from '../src/idp.ts';
import { loadConfig } from '../src/config/index.ts';
import { createHttpServer, type HttpServerOptions } from '../src/http/index.ts';
import { createLogger } from '../src/shared/index.ts';
import { testDatabase } from './db.ts';

export interface IdpHandle {
  url: string;
  app: Idp;
  dataDir: string;
  database: Awaited<ReturnType<typeof testDatabase>>;
  close(): Promise<void>;
}

/** The real biometric parts (test/support/parts.ts) and what else a test wants to override. */
export type Parts = Required<Pick<IdpOverrides, 'face' | 'custodian' | 'he'>> & Pick<IdpOverrides, 'captureFrames' | 'rates' | 'policies' | 'clock' | 'liveness'>;

/** The real app on a real HTTP server on port 0, with a fresh database (see db.ts). */
export interface StartOptions {
  env?: Record<string, string>;
  pglite?: boolean;
  /** The embedded default exactly as `npm start` runs it, in DATA_DIR/pglite. */
  persistentPglite?: boolean;
  /** A database prepared by the test (e.g. behind a TCP proxy it can cut). */
  database?: Awaited<ReturnType<typeof testDatabase>>;
  /** Share another instance's data directory (and so its demo secrets): a second web process. */
  dataDir?: string;
  /** Server timeouts (slow-client tests shorten them). */
  server?: HttpServerOptions;
  /**
   * The host name in the issuer URL (the server listens on 127.0.0.1 either way). Browser passkey
   * tests use `localhost`: a WebAuthn RP ID is a domain, never an IP address.
   */
  host?: string;
}

export async function startIdp(parts: Parts, options: StartOptions = {}): Promise<IdpHandle> {
  let handler: http.RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createHttpServer((req, res) => handler(req, res), options.server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'faceid-idp-'));
  const config = loadConfig({ DATA_DIR: dataDir, PORT: String(port), ISSUER: url, LOG_LEVEL: 'silent', LIVENESS: 'off', ...options.env });
  const database = options.database ?? (await testDatabase({ pglite: options.pglite, pgliteDataDir: options.persistentPglite ? dataDir : undefined }));
  const app = await createIdp(config, { logger: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), database, ...parts });
  handler = app.callback!;
  return {
    url,
    app,
    dataDir,
    database,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
      if (!options.database) await database.close();
    },
  };
}
