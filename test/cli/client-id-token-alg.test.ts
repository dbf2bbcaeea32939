import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeParts, type FakeParts } from '../../support/fakes.ts';
import { HttpClient } from '../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { REDIRECT_URI, authRequest, exchange, signInOverHttp, signUpOverHttp } from '../../support/signin.ts';

const run = promisify(execFile);

/**
 * `client:add --id-token-alg ES256` as an operator runs it (its own process, the embedded
 * database in DATA_DIR), then the IdP on that same data directory: the client it registered gets
 * ES256 ID tokens that openid-client verifies against the JWKS.
 */
describe('cli client:add --id-token-alg', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'faceid-cli-alg-'));
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
  delete env.DATABASE_URL; // the embedded default, shared with the IdP started below
  const cli = (...args: string[]) => run(process.execPath, ['src/cli/index.ts', ...args], { env, timeout: 120_000 });
  let parts: FakeParts | undefined;
  let idp: IdpHandle | undefined;

  beforeAll(async () => {
    parts = await fakeParts();
  });

  afterAll(async () => {
    await idp?.close();
    await parts?.close();
  });

  it('refuses an algorithm the IdP has no key for, naming the ones it has', async () => {
    const refused = await cli('client:add', '--name', 'HMAC RP', '--redirect-uri', REDIRECT_URI, '--id-token-alg', 'HS256').catch((error: { code: number; stdout: string; stderr: string }) => error);
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect((refused as { stderr: string }).stderr).toContain('error (client_invalid): ID-token signing algorithm must be one of RS256, ES256, not "HS256".');
  });

  it('registers an ES256 client whose ID tokens are ES256 and verify against the JWKS', async () => {
    const added = await cli('client:add', '--name', 'ES256 RP', '--redirect-uri', REDIRECT_URI, '--id-token-alg', 'ES256');
    const clientId = /client_id=(\S+)/.exec(added.stdout)![1]!;
    const clientSecret = /client_secret=([\w-]{43})/.exec(added.stdout)![1]!;

    idp = await startIdp(parts!.parts, { dataDir, persistentPglite: true });
    expect((await signUpOverHttp(idp.url, 'erin', parts!.enrollFrames)).status).toBe(303);
    const config = await oidc.discovery(new URL(idp.url), clientId, { client_secret: clientSecret, id_token_signed_response_alg: 'ES256' }, undefined, {
      execute: [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks],
    });
    const request = await authRequest(config);
    const { callback } = await signInOverHttp(new HttpClient(idp.url), request, 'erin', parts!.sameFrames);
    const tokens = await exchange(config, callback, request);
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('ES256');
    expect(tokens.claims()!.aud).toBe(clientId);
  });
});
