import type { Knex } from 'knex';

/**
 * TOTP second factor (RFC 6238) and single-use recovery codes. The TOTP secret is sealed
 * (AES-256-GCM); `last_used_step` is the replay guard, advanced atomically by a conditional
 * UPDATE so two parallel submissions of one code cannot both pass. Recovery codes are stored
 * only as keyed hashes.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('totp_credentials', (t) => {
    t.text('account_id').primary().references('id').inTable('accounts').onDelete('CASCADE');
    t.binary('secret_sealed').notNullable();
    t.timestamp('confirmed_at', { useTz: true });
    t.bigInteger('last_used_step');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('recovery_codes', (t) => {
    t.text('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('code_hash').notNullable();
    t.timestamp('used_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'code_hash']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('recovery_codes');
  await knex.schema.dropTable('totp_credentials');
}
