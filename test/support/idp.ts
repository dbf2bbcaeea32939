import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App, type AppDeps } from '../../src/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/shared/index.ts';
import { testDatabase } from './db.ts';

export interface IdpHandle {
  url: string;
  app: App;
  dataDir: string;
  database: Awaited<ReturnType<typeof testDatabase>>;
  close(): Promise<void>;
}

export type Parts = Pick<AppDeps, 'face' | 'custodian' | 'createHe' | 'matchThreshold'> & Partial<Pick<AppDeps, 'captureFrames' | 'rates' | 'policies'>>;

/** The real app on a real HTTP server on port 0, with a fresh database (see db.ts). */
export async function startIdp(parts: Parts, options: { env?: Record<string, string>; pglite?: boolean; persistentPglite?: boolean } = {}): Promise<IdpHandle> {
  let handler: http.RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'faceid-idp-'));
  const config = loadConfig({ DATA_DIR: dataDir, PORT: String(port), ISSUER: url, LOG_LEVEL: 'silent', ...options.env });
  // persistentPglite: the embedded default exactly as `npm start` runs it, in DATA_DIR/pglite.
  const database = await testDatabase({ pglite: options.pglite, pgliteDataDir: options.persistentPglite ? dataDir : undefined });
  const app = await createApp({ config, logger: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), database, ...parts });
  handler = app.callback;
  return {
    url,
    app,
    dataDir,
    database,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
      await database.close();
    },
  };
}
