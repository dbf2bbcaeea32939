import type { Db } from '../connect.ts';

export interface ChallengeRow {
  id: string;
  binding: string;
  actions: string[];
  issued_at: Date;
  expires_at: Date;
  used_at: Date | null;
}

const toRow = (row: Record<string, unknown>): ChallengeRow => ({
  id: String(row.id),
  binding: String(row.binding),
  actions: (typeof row.actions === 'string' ? JSON.parse(row.actions) : row.actions) as string[],
  issued_at: new Date(row.issued_at as string),
  expires_at: new Date(row.expires_at as string),
  used_at: row.used_at ? new Date(row.used_at as string) : null,
});

/** Liveness challenges and the keyed hashes of checked frames (migration 0008). */
export function createLivenessQueries(db: Db) {
  return {
    async insert(row: { id: string; binding: string; actions: string[]; issuedAt: Date; expiresAt: Date }): Promise<void> {
      await db('liveness_challenges').insert({ id: row.id, binding: row.binding, actions: JSON.stringify(row.actions), issued_at: row.issuedAt, expires_at: row.expiresAt });
    },
    /**
     * Spends the challenge (one atomic update: of two parallel uploads for one challenge, one
     * wins). Returns the spent row, or why it could not be spent.
     */
    async spend(id: string, binding: string, at: Date): Promise<{ row: ChallengeRow } | { refused: 'unknown' | 'used' | 'expired' | 'elsewhere' }> {
      const spent = (await db('liveness_challenges')
        .where({ id, binding })
        .whereNull('used_at')
        .andWhere('expires_at', '>', at)
        .update({ used_at: at })
        .returning('*')) as Array<Record<string, unknown>>;
      if (spent[0]) return { row: toRow(spent[0]) };
      const found = (await db('liveness_challenges').where({ id }).first()) as Record<string, unknown> | undefined;
      if (!found) return { refused: 'unknown' };
      const row = toRow(found);
      if (row.binding !== binding) return { refused: 'elsewhere' };
      if (row.used_at) return { refused: 'used' };
      return { refused: 'expired' };
    },
    /**
     * Records the hashes; returns how many had been seen in an earlier burst (repeats inside one
     * burst are not counted: a camera slower than the capture rate repeats its last frame).
     */
    async seeFrames(hashes: string[], at: Date): Promise<number> {
      if (hashes.length === 0) return 0;
      const unique = [...new Set(hashes)];
      const inserted = (await db('liveness_frames').insert(unique.map((hash) => ({ hash, seen_at: at }))).onConflict('hash').ignore().returning('hash')) as unknown[];
      return unique.length - inserted.length;
    },
    async sweep(challengesBefore: Date, framesBefore: Date): Promise<number> {
      const challenges = await db('liveness_challenges').where('expires_at', '<', challengesBefore).delete();
      const frames = await db('liveness_frames').where('seen_at', '<', framesBefore).delete();
      return Number(challenges) + Number(frames);
    },
  };
}

export type LivenessQueries = ReturnType<typeof createLivenessQueries>;
