import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Db, SigningKeyQueries, SigningKeyRow } from '../db/index.ts';
import type { Sealer } from '../sealing/index.ts';

/**
 * ID-token signing keys. RS256 for interoperability (OpenID Connect Core 1.0, section 15.1: the
 * mandatory-to-implement algorithm) plus ES256. Private keys are sealed at rest. Rotation is
 * two-phase so relying parties that cache the JWKS never see a signature by an unknown key:
 *   next    — published in the JWKS, not yet signing;
 *   active  — signing (exactly one per algorithm);
 *   retired — still published, so tokens it signed keep verifying until they expire.
 * `rotate` promotes next -> active, active -> retired, and creates a new next key.
 */
export const SIGNING_ALGS = ['RS256', 'ES256'] as const;
type SigningAlg = (typeof SIGNING_ALGS)[number];

export interface SigningKeyDeps {
  db: Db;
  queries: SigningKeyQueries;
  sealer: Sealer;
  /** Retired keys older than this are deleted at the next rotation (longest token lifetime). */
  retainRetiredMs?: number;
}

const sealContext = (kid: string) => `signing-key:${kid}`;

async function makeKey(alg: SigningAlg, sealer: Sealer) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const kid = randomUUID();
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const sealed = sealer.seal(Buffer.from(JSON.stringify(privateJwk), 'utf8'), sealContext(kid));
  return { kid, alg, public_jwk: publicJwk, private_sealed: sealed };
}

export interface RotationResult {
  activated: string[];
  retired: string[];
  created: string[];
  deleted: number;
}

const ORDER: Record<string, number> = { active: 0, next: 1, retired: 2 };

const has = (rows: SigningKeyRow[], alg: SigningAlg, state: SigningKeyRow['state']) => rows.some((row) => row.alg === alg && row.state === state);

export function createSigningKeys(deps: SigningKeyDeps) {
  const retainMs = deps.retainRetiredMs ?? 30 * 24 * 3600 * 1000;

  /**
   * Makes sure every algorithm has an active and a next key; returns the keys it ended with, so
   * callers need not list them again (listed once more only when some were missing).
   */
  async function ensure(): Promise<SigningKeyRow[]> {
    const existing = await deps.queries.list();
    if (SIGNING_ALGS.every((alg) => has(existing, alg, 'active') && has(existing, alg, 'next'))) return existing;
    const fresh = await Promise.all(SIGNING_ALGS.flatMap((alg) => [makeKey(alg, deps.sealer), makeKey(alg, deps.sealer)]));
    await deps.db.transaction(async (trx) => {
      await deps.queries.lock(trx);
      // Another process may have added them while the keys were generated.
      const rows = await deps.queries.list(trx);
      for (const alg of SIGNING_ALGS) {
        const [forActive, forNext] = fresh.splice(0, 2);
        if (!has(rows, alg, 'active')) await deps.queries.insert({ ...forActive!, state: 'active' }, trx);
        if (!has(rows, alg, 'next')) await deps.queries.insert({ ...forNext!, state: 'next' }, trx);
      }
    });
    return deps.queries.list();
  }

  return {
    ensure,

    /**
     * The private JWKS for oidc-provider: active keys first, because the provider signs with the
     * first key that fits the algorithm; next and retired keys follow so they are published.
     */
    async privateJwks(): Promise<{ keys: JWK[] }> {
      const rows = (await ensure()).sort((a, b) => ORDER[a.state]! - ORDER[b.state]!);
      return { keys: rows.map((row) => JSON.parse(deps.sealer.open(row.private_sealed, sealContext(row.kid)).toString('utf8')) as JWK) };
    },

    async list(): Promise<Array<Pick<SigningKeyRow, 'kid' | 'alg' | 'state' | 'created_at' | 'activated_at' | 'retired_at'>>> {
      return (await deps.queries.list()).map(({ kid, alg, state, created_at, activated_at, retired_at }) => ({ kid, alg, state, created_at, activated_at, retired_at }));
    },

    /** `audit`: runs inside the rotation's transaction with its result (the rotation and its audit event commit together). */
    async rotate(options: { audit?: (result: RotationResult, trx: Db) => Promise<void> } = {}): Promise<RotationResult> {
      await ensure();
      const result = { activated: [] as string[], retired: [] as string[], created: [] as string[], deleted: 0 };
      const fresh = await Promise.all(SIGNING_ALGS.map((alg) => makeKey(alg, deps.sealer)));
      await deps.db.transaction(async (trx) => {
        await deps.queries.lock(trx);
        const rows = await deps.queries.list(trx);
        for (const [index, alg] of SIGNING_ALGS.entries()) {
          for (const row of rows.filter((r) => r.alg === alg && r.state === 'active')) {
            await deps.queries.setState(row.kid, 'retired', trx);
            result.retired.push(row.kid);
          }
          for (const row of rows.filter((r) => r.alg === alg && r.state === 'next')) {
            await deps.queries.setState(row.kid, 'active', trx);
            result.activated.push(row.kid);
          }
          const key = fresh[index]!;
          await deps.queries.insert({ ...key, state: 'next' }, trx);
          result.created.push(key.kid);
        }
        result.deleted = await deps.queries.deleteRetiredBefore(new Date(Date.now() - retainMs), trx);
        await options.audit?.(result, trx);
      });
      return result;
    },
  };
}

export type SigningKeys = ReturnType<typeof createSigningKeys>;
