import type { Knex } from 'knex';

/**
 * Remembered consent: what an account allowed each (third-party) client to see, so the consent
 * page is not asked on every sign-in after the session ends. oidc-provider's grants belong to a
 * session; this row outlives it until the user revokes it on the account page.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('consents', (t) => {
    t.text('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.text('client_id').notNullable();
    t.jsonb('scopes').notNullable().defaultTo('[]');
    t.jsonb('claims').notNullable().defaultTo('[]');
    t.timestamp('granted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['account_id', 'client_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('consents');
}
