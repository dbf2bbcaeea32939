import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { createIdp, type Idp } from '../../src/idp.ts';
import { createCommands, type Commands } from '../../src/operator/index.ts';
import { silentLogger } from '../../src/shared/index.ts';
import { testDatabase } from '../../support/db.ts';
import { fakeParts, type FakeParts } from '../../support/fakes.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Issue 13: `client:add` once reported an error although it had written the client (its audit
 * event failed after the client was stored). Every operator command is one transaction: here the
 * database itself refuses the command's audit event midway (a CHECK constraint on audit_events,
 * added by the test), and nothing of the command may remain. The same commands run in the CLI
 * and behind a running IdP's operator socket (src/operator).
 */
describe('operator commands are atomic: a failure midway leaves no rows and no audit event', () => {
  let parts: FakeParts;
  let database: Awaited<ReturnType<typeof testDatabase>>;
  let idp: Idp;
  let commands: Commands;
  const refuseAudit = (type: string) => database.knex.raw(`alter table audit_events add constraint test_refuse_${type} check (type <> '${type}') not valid`);
  const count = async (table: string, where: Record<string, unknown> = {}) => Number(((await database.knex(table).where(where).count('* as n').first()) as { n: string | number }).n);

  beforeAll(async () => {
    parts = await fakeParts();
    database = await testDatabase();
    const config = loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), 'faceid-atomic-')), LOG_LEVEL: 'silent' });
    idp = await createIdp(config, { logger: silentLogger, database, http: false, ...parts.parts });
    commands = createCommands(idp.services);
  });

  afterEach(async () => {
    for (const type of ['client_added', 'client_deleted', 'signup', 'face_reset', 'account_deleted', 'keys_rotated']) {
      await database.knex.raw(`alter table audit_events drop constraint if exists test_refuse_${type}`);
    }
  });

  afterAll(async () => {
    await idp?.close();
    await database?.close();
    await parts?.close();
  });

  const faces = () => parts.enrollFrames.map((frame) => frame.data);

  it('client:add: the client is not stored when its audit event fails', async () => {
    await refuseAudit('client_added');
    await expect(commands.run({ command: 'client:add', options: { name: 'Half', 'redirect-uri': ['https://rp.example/cb'], 'client-id': 'half-client' }, faces: [] })).rejects.toThrow(/test_refuse_client_added/);
    expect(await count('oidc_clients', { client_id: 'half-client' })).toBe(0);
    expect(await count('audit_events', { type: 'client_added' })).toBe(0);
    // Without the fault the same command stores both.
    await database.knex.raw('alter table audit_events drop constraint test_refuse_client_added');
    const added = await commands.run({ command: 'client:add', options: { name: 'Whole', 'redirect-uri': ['https://rp.example/cb'], 'client-id': 'whole-client' }, faces: [] });
    expect(added.data).toMatchObject({ clientId: 'whole-client', clientSecret: expect.any(String) });
    expect(await count('oidc_clients', { client_id: 'whole-client' })).toBe(1);
    expect(await count('audit_events', { type: 'client_added', client_id: 'whole-client' })).toBe(1);
  });

  it('client:delete: the client stays when its audit event fails', async () => {
    await refuseAudit('client_deleted');
    await expect(commands.run({ command: 'client:delete', options: { 'client-id': 'whole-client' }, faces: [] })).rejects.toThrow(/test_refuse_client_deleted/);
    expect(await count('oidc_clients', { client_id: 'whole-client' })).toBe(1);
  });

  it('user:add: no account and no template when the signup event fails', async () => {
    await refuseAudit('signup');
    await expect(commands.run({ command: 'user:add', options: { username: 'halfway', email: 'h@example.com' }, faces: faces() })).rejects.toThrow(/test_refuse_signup/);
    expect(await count('accounts', { username: 'halfway' })).toBe(0);
    expect(await count('face_templates')).toBe(0);
    expect(await count('audit_events', { type: 'signup' })).toBe(0);
  });

  it('user:add with a face the engine refuses writes nothing', async () => {
    await expect(commands.run({ command: 'user:add', options: { username: 'noface', email: 'n@example.com' }, faces: [(await parts.blank()).data, (await parts.blank()).data, (await parts.blank()).data] })).rejects.toMatchObject({ code: 'no_face' });
    expect(await count('accounts', { username: 'noface' })).toBe(0);
    expect(await count('audit_events', { type: 'signup' })).toBe(0);
  });

  it('user:reset-face keeps the old template, and user:delete keeps the account, when their events fail', async () => {
    const added = await commands.run({ command: 'user:add', options: { username: 'whole', email: 'w@example.com' }, faces: faces() });
    const accountId = added.data.accountId as string;
    const before = await database.knex('face_templates').where({ account_id: accountId }).first();

    await refuseAudit('face_reset');
    await expect(commands.run({ command: 'user:reset-face', options: { username: 'whole' }, faces: faces() })).rejects.toThrow(/test_refuse_face_reset/);
    const after = await database.knex('face_templates').where({ account_id: accountId }).first();
    expect(Buffer.from(after.ciphertext).equals(Buffer.from(before.ciphertext))).toBe(true);
    expect(await count('audit_events', { type: 'face_reset' })).toBe(0);

    await refuseAudit('account_deleted');
    await expect(commands.run({ command: 'user:delete', options: { username: 'whole' }, faces: [] })).rejects.toThrow(/test_refuse_account_deleted/);
    expect(await count('accounts', { id: accountId })).toBe(1);
    expect(await count('face_templates', { account_id: accountId })).toBe(1);
    // Its past events were not pseudonymised either: the deletion's transaction rolled back whole.
    expect(await count('audit_events', { account_id: accountId, type: 'signup' })).toBe(1);
  });

  it('keys:rotate: no key changes state when its audit event fails', async () => {
    await idp.services.signingKeys.ensure();
    const before = await database.knex('signing_keys').select('kid', 'state').orderBy('kid');
    await refuseAudit('keys_rotated');
    await expect(commands.run({ command: 'keys:rotate', options: {}, faces: [] })).rejects.toThrow(/test_refuse_keys_rotated/);
    expect(await database.knex('signing_keys').select('kid', 'state').orderBy('kid')).toEqual(before);
  });

  it('refuses db:rollback when run for a CLI by the running IdP, and unknown commands', async () => {
    await expect(commands.run({ command: 'db:rollback', options: {}, faces: [] }, { remote: true })).rejects.toMatchObject({ code: 'operator_refused' });
    await expect(commands.run({ command: 'nonsense', options: {}, faces: [] })).rejects.toMatchObject({ code: 'cli_usage' });
  });
});
