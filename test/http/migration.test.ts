import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFaceEngine, DEFAULT_MATCH_THRESHOLD, type FaceEngine } from '../../src/face/index.ts';
import { DEFAULT_PIPELINE } from '../../src/face/research.ts';
import { createCommands } from '../../src/operator/index.ts';
import { testDatabase } from '../../support/db.ts';
import { HttpClient } from '../../support/http-client.ts';
import { startIdp, type IdpHandle } from '../../support/idp.ts';
import { jpeg, realParts, type PartsHandle } from '../../support/parts.ts';
import { authRequest, exchange, registerClient, signInOverHttp, signUpOverHttp } from '../../support/signin.ts';

/**
 * Face model migration (issue 12): templates are tied to the face model that made them. An IdP
 * whose model changed still verifies templates of the old one (a legacy model, with its own
 * threshold); a successful sign-in replaces the old template with one of the current model made
 * from the same frames, so nobody enrols again. Real parts throughout: two real pipelines (the
 * old one: the 128-d descriptor without the mirror image, a different model version), the real
 * custodian process, HE engine and database, over HTTP.
 */
describe('face model migration on sign-in', () => {
  const OLD = { ...DEFAULT_PIPELINE, mirror: false };
  let parts: PartsHandle;
  let database: Awaited<ReturnType<typeof testDatabase>>;
  let oldEngine: FaceEngine;
  let newEngine: FaceEngine;
  let laterEngine: FaceEngine;
  let idp: IdpHandle | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'faceid-migration-'));

  beforeAll(async () => {
    parts = await realParts({ workers: 1 });
    database = await testDatabase();
    oldEngine = await createFaceEngine({ workers: 1, pipeline: OLD });
    newEngine = await createFaceEngine({ workers: 1, legacy: [{ pipeline: OLD, threshold: DEFAULT_MATCH_THRESHOLD }] });
    laterEngine = await createFaceEngine({ workers: 1, legacy: [] }); // a later release, the old model dropped
    expect(oldEngine.modelVersion).not.toBe(newEngine.modelVersion);
  }, 300_000);

  afterAll(async () => {
    await idp?.close();
    await oldEngine?.close();
    await newEngine?.close();
    await laterEngine?.close();
    await database?.close();
    await parts?.close();
  });

  /** The account's face_templates row, every column (what a database backup holds). */
  const templateOf = async (username: string) => (await database.knex('face_templates').whereIn('account_id', database.knex('accounts').select('id').where({ username })).first()) as (Record<string, unknown> & { account_id: string; model_version: string; ciphertext: Buffer; key_id: Buffer }) | undefined;
  const status = async () => (await createCommands(idp!.app.services).run({ command: 'templates:status', options: {}, faces: [] })).data as { groups: Array<{ modelVersion: string; status: string; count: number }> };
  const threeOfA = () => [...parts.people.a.verify, parts.people.a.enroll[0]!].map(jpeg);
  const migrations = async () => (await database.knex('audit_events').where({ type: 'face_migrated' })) as Array<{ detail: unknown }>;

  it('an old-model account signs in, leaves with a current-model template, then signs in under it; others are not migrated by a wrong face', async () => {
    // 1. The IdP as it was: both accounts enrolled under the old model.
    idp = await startIdp({ ...parts.parts, face: oldEngine }, { database, dataDir });
    expect((await signUpOverHttp(idp.url, 'ola', parts.enrollFrames)).status).toBe(303);
    expect((await signUpOverHttp(idp.url, 'olb', parts.otherEnrollFrames)).status).toBe(303);
    expect((await templateOf('ola'))!.model_version).toBe(oldEngine.modelVersion);
    await idp.close();

    // 2. The new release: current model, the old one as legacy.
    idp = await startIdp({ ...parts.parts, face: newEngine }, { database, dataDir });
    expect((await status()).groups).toEqual([expect.objectContaining({ modelVersion: oldEngine.modelVersion, status: 'migrates on sign-in', count: 2 })]);
    const { config } = await registerClient(idp, { name: 'Migration RP', firstParty: true });
    const before = (await templateOf('ola'))!; // also what a database backup taken now holds

    // The attacker's try: B's face against A's old template is refused and migrates nothing.
    const attacker = new HttpClient(idp.url);
    const refused = await signInOverHttp(attacker, await authRequest(config), 'ola', parts.otherFrames);
    expect(refused.callback.href).toBe('about:blank');
    expect(refused.last.status).toBeGreaterThanOrEqual(400);
    expect((await templateOf('ola'))!.ciphertext.equals(before.ciphertext)).toBe(true);
    expect(await migrations()).toHaveLength(0);

    // One picture of A (an API client's upload): signed in under the old model, but one frame
    // makes no template (enrolment takes 3), so the old one stays, to be migrated another time.
    const single = await authRequest(config);
    const singleIn = await signInOverHttp(new HttpClient(idp.url), single, 'ola', parts.sameFrames);
    expect((await exchange(config, singleIn.callback, single)).claims()!.amr).toEqual(['face']);
    expect((await templateOf('ola'))!.ciphertext.equals(before.ciphertext)).toBe(true);
    expect(await migrations()).toHaveLength(0);

    // Three pictures, as the camera page sends (and PAD's key frames): signed in under the old
    // model, and migrated in the same request.
    const first = await authRequest(config);
    const signedIn = await signInOverHttp(new HttpClient(idp.url), first, 'ola', threeOfA());
    expect((await exchange(config, signedIn.callback, first)).claims()!.amr).toEqual(['face']);
    const after = (await templateOf('ola'))!;
    expect(after.model_version).toBe(newEngine.modelVersion);
    expect(after.ciphertext.equals(before.ciphertext)).toBe(false);
    expect(after.key_id.equals(before.key_id)).toBe(false); // a new custodian key: the old one is destroyed
    const audited = await migrations();
    expect(audited).toHaveLength(1);
    expect(JSON.stringify(audited[0]!.detail)).toContain(oldEngine.modelVersion);
    expect((await status()).groups).toEqual(expect.arrayContaining([
      expect.objectContaining({ modelVersion: newEngine.modelVersion, status: 'current', count: 1 }),
      expect.objectContaining({ modelVersion: oldEngine.modelVersion, status: 'migrates on sign-in', count: 1 }),
    ]));

    // Again: now under the current model; nothing more to migrate.
    const second = await authRequest(config);
    const again = await signInOverHttp(new HttpClient(idp.url), second, 'ola', threeOfA());
    expect((await exchange(config, again.callback, second)).claims()!.amr).toEqual(['face']);
    expect((await templateOf('ola'))!.ciphertext.equals(after.ciphertext)).toBe(true);
    expect(await migrations()).toHaveLength(1);
    // And the other face still does not get in under the new template.
    const refusedAgain = await signInOverHttp(new HttpClient(idp.url), await authRequest(config), 'ola', parts.otherFrames);
    expect(refusedAgain.callback.href).toBe('about:blank');

    // The attacker's rollback: the pre-migration row put back from that backup (as whoever can
    // write the database could, to bring back an old template). The custodian bound A's new key to
    // the new template and destroyed the old key, so it issues no ticket for the old template:
    // even A's own face is refused (the same answer as a wrong face), the IdP raises a tampering
    // alert, and nothing is re-migrated.
    const current = (await templateOf('ola'))!;
    await database.knex('face_templates').where({ account_id: current.account_id }).update(before);
    const rolledBack = await signInOverHttp(new HttpClient(idp.url), await authRequest(config), 'ola', threeOfA());
    expect(rolledBack.callback.href).toBe('about:blank');
    expect([rolledBack.last.status, rolledBack.last.json().error]).toEqual([401, 'face_not_matched']);
    const alerts = (await database.knex('audit_events').where({ type: 'template_tampered' })) as Array<{ detail: unknown }>;
    expect(alerts.map((a) => JSON.stringify(a.detail))).toEqual([expect.stringContaining('custodian')]);
    expect((await templateOf('ola'))!.ciphertext.equals(before.ciphertext)).toBe(true);
    expect(await migrations()).toHaveLength(1);
    await database.knex('face_templates').where({ account_id: current.account_id }).update(current);

    // 3. A release that dropped the old model: B's template can no longer be compared (the CLI says so).
    await idp.close();
    idp = await startIdp({ ...parts.parts, face: laterEngine }, { database, dataDir });
    expect((await status()).groups).toEqual(expect.arrayContaining([expect.objectContaining({ modelVersion: oldEngine.modelVersion, status: 'unusable', count: 1 })]));
  }, 300_000);
});
