import type { Knex } from 'knex';

/**
 * Presentation-attack detection (src/liveness): the challenges the server issues (random actions,
 * bound to what they are for, single-use, expiring) and keyed hashes of the frames of every burst
 * that was checked, so that the same pictures cannot be submitted again. No picture is stored: a
 * hash is an HMAC under a key the database does not hold.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('liveness_challenges', (t) => {
    t.text('id').primary();
    t.text('binding').notNullable(); // e.g. interaction:<uid>, signup:<csrf session>, account:<id>
    t.jsonb('actions').notNullable();
    t.timestamp('issued_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true });
    t.index(['expires_at']);
  });
  await knex.schema.createTable('liveness_frames', (t) => {
    t.text('hash').primary();
    t.timestamp('seen_at', { useTz: true }).notNullable();
    t.index(['seen_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('liveness_frames');
  await knex.schema.dropTable('liveness_challenges');
}
