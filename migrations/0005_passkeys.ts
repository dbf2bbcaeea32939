import type { Knex } from 'knex';

/**
 * Passkeys (WebAuthn Level 3): the credentials an account registered, with what a relying party
 * must keep (public key, signature counter, backup flags, transports), and the single-use
 * challenges of the ceremonies, each bound to what it is for (an interaction, an account page
 * session) and expiring.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webauthn_credentials', (t) => {
    t.text('id').primary(); // the credential id, base64url
    t.text('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.binary('public_key').notNullable(); // COSE
    t.bigInteger('counter').notNullable().defaultTo(0);
    t.jsonb('transports').notNullable().defaultTo('[]');
    t.text('device_type').notNullable(); // singleDevice | multiDevice
    t.boolean('backed_up').notNullable();
    t.text('aaguid').notNullable();
    t.text('name').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.index(['account_id']);
  });
  await knex.schema.createTable('webauthn_challenges', (t) => {
    t.text('binding').notNullable(); // e.g. interaction:<uid>, account:<id>
    t.text('purpose').notNullable(); // registration | authentication
    t.text('challenge').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.primary(['binding', 'purpose']);
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webauthn_challenges');
  await knex.schema.dropTable('webauthn_credentials');
}
