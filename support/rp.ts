import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createRelyingParty } from '../examples/relying-party/app.ts';
import type { IdpHandle } from './idp.ts';

/** The sample relying party on port 0, registered with the IdP as `sample-rp`. */
export async function startRelyingParty(idp: IdpHandle): Promise<{ url: string; close(): Promise<void> }> {
  let handler: http.RequestListener = (_req, res) => res.end();
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientSecret = randomBytes(32).toString('base64url');
  await idp.app.services.clients.add({ clientId: 'sample-rp', name: 'Sample relying party', redirectUris: [`${url}/callback`], postLogoutRedirectUris: [`${url}/`], secret: clientSecret });
  const rp = await createRelyingParty({ issuer: idp.url, clientId: 'sample-rp', clientSecret, baseUrl: url });
  handler = (req, res) => void rp(req, res);
  return {
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
