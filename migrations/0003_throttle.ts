import type { Knex } from 'knex';

/**
 * Brute-force and abuse limits shared by every IdP process (the web tier keeps no state):
 * - auth_throttle: consecutive failures per key (face per username, TOTP per account, failures
 *   per client IP), with lockouts whose length doubles (NIST SP 800-63B 5.2.2). Attempts are
 *   reserved atomically before they are evaluated, so parallel attempts cannot slip past.
 * - rate_windows: fixed-window request counters (sign-ups and logins per IP).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('auth_throttle', (t) => {
    t.text('key').primary();
    t.integer('failures').notNullable().defaultTo(0);
    t.integer('lockouts').notNullable().defaultTo(0);
    t.timestamp('locked_until', { useTz: true });
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('rate_windows', (t) => {
    t.text('key').primary();
    t.integer('count').notNullable();
    t.timestamp('window_ends', { useTz: true }).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('rate_windows');
  await knex.schema.dropTable('auth_throttle');
}
