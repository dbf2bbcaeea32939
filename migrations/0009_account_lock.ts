import type { Knex } from 'knex';

/**
 * An operator's lock on an account (the admin console): while `locked_at` is set the account is
 * refused at sign-in (`account_locked`), by passkey too, and its tokens no longer refresh.
 * `locked_reason` is the operator's note, shown in the console only (never to the user).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.timestamp('locked_at', { useTz: true });
    t.text('locked_reason');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('locked_reason');
    t.dropColumn('locked_at');
  });
}
