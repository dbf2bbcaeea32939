import http from 'node:http';
import { createRelyingParty } from './app.ts';

// Entry point of the sample relying party; `npm start` runs it beside the IdP with these set.
const required = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`Set ${name}.`);
  return value;
};

const port = Number(process.env.RP_PORT ?? 3001);
const baseUrl = process.env.RP_BASE_URL ?? `http://localhost:${port}`;
const handler = await createRelyingParty({
  issuer: required('RP_ISSUER'),
  clientId: process.env.RP_CLIENT_ID ?? 'sample-rp',
  clientSecret: required('RP_CLIENT_SECRET'),
  baseUrl,
});
http.createServer((req, res) => void handler(req, res)).listen(port, process.env.RP_HOST ?? '127.0.0.1', () => {
  console.log(`sample relying party on ${baseUrl}`);
});
