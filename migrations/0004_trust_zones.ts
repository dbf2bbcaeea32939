import type { Knex } from 'knex';

/**
 * The threat model made true (issue 10):
 * - face_templates.key_id: the custodian key the template is encrypted under (one key pair per
 *   subject now); face_templates.mac: HMAC binding the row to its account, parameter set, face
 *   model and key, under a key the database does not hold. Rows from before have neither and
 *   are refused as outdated (the user re-enrolls).
 * - oidc_payloads ids become keyed hashes (a database reader gets no usable token): every row
 *   stored before is unreachable, so they are deleted (everyone signs in again once).
 * - known_devices: browsers that have signed in to an account, so that a stranger's failures
 *   cannot lock the owner out (README, "Abuse limits").
 * - custodian_forgets: accounts deleted while the custodian could not be told; the sweeper
 *   retries until their keys are destroyed.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('face_templates', (t) => {
    t.binary('key_id');
    t.binary('mac');
  });
  await knex('oidc_payloads').delete();
  await knex.schema.createTable('known_devices', (t) => {
    t.text('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('device_hash').notNullable();
    t.timestamp('last_success_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'device_hash']);
    t.index(['last_success_at']);
  });
  await knex.schema.createTable('custodian_forgets', (t) => {
    t.text('subject').primary();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('custodian_forgets');
  await knex.schema.dropTable('known_devices');
  await knex.schema.alterTable('face_templates', (t) => {
    t.dropColumn('mac');
    t.dropColumn('key_id');
  });
}
