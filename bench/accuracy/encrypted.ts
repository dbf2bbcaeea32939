/** The encrypted cross-check: decisions re-run through the real HE engine and custodian process. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { distance } from '../../src/face/research.ts';
import { spawnCustodian, type SpawnedCustodian } from '../../src/custodian/index.ts';
import { createHeEngine, DEFAULT_HE_PARAMS, plainDecision, quantisationMargin, quantise } from '../../src/he/index.ts';
import { enrollAt, judgeAt } from '../../support/custodian.ts';

// ---------------------------------------------------------------------------------------------
// Encrypted path (src/he + src/custodian, owned by the HE engineer; loaded dynamically so that this
// benchmark still runs, and says so, when they are absent or their API moved).

export interface EncryptedResult {
  status: 'ok' | 'skipped';
  reason?: string;
  decisions?: number;
  nearThreshold?: number;
  heVsPlainQuantised?: number;
  heVsFloat?: number;
  maxGapOfFloatDisagreement?: number;
  quantisationMargin?: number;
  msPerDecision?: number;
  /** The HE decision (= plainDecision, quantised) against the float one, over every official pair. */
  quantised?: { genuine: number; genuineRejectedFloat: number; genuineRejectedQuantised: number; impostors: number; impostorsAcceptedFloat: number; impostorsAcceptedQuantised: number; meanDistanceShift: number };
}

/** Float vs quantised decisions (what the encrypted path decides) on every given pair. */
export async function quantisedDecisions(genuine: [Float32Array, Float32Array][], impostors: [Float32Array, Float32Array][], threshold: number): Promise<EncryptedResult['quantised']> {
  let shift = 0, n = 0;
  const count = (pairs: [Float32Array, Float32Array][], accept: boolean) => {
    let f = 0, q = 0;
    for (const [a, b] of pairs) {
      const d = distance(a, b);
      if ((d < threshold) === accept) f += 1;
      if (plainDecision(a, b, threshold) === accept) q += 1;
      if (n < 20_000) {
        const qa = quantise(a), qb = quantise(b);
        let sq = 0;
        for (let i = 0; i < qa.length; i += 1) sq += (qa[i]! - qb[i]!) ** 2;
        shift += Math.sqrt(sq) / DEFAULT_HE_PARAMS.scale - d;
        n += 1;
      }
    }
    return [f, q] as const;
  };
  const [gf, gq] = count(genuine, false);
  const [imf, imq] = count(impostors, true);
  return { genuine: genuine.length, genuineRejectedFloat: gf, genuineRejectedQuantised: gq, impostors: impostors.length, impostorsAcceptedFloat: imf, impostorsAcceptedQuantised: imq, meanDistanceShift: n ? shift / n : Number.NaN };
}

export async function encryptedPath(pairs: { a: Float32Array; b: Float32Array; d: number }[], threshold: number, band: number): Promise<EncryptedResult> {
  const keyDir = await mkdtemp(path.join(os.tmpdir(), 'faceid-bench-custodian-'));
  let spawned: SpawnedCustodian | undefined;
  try {
    spawned = await spawnCustodian({
      keyDir,
      sharedSecret: randomBytes(32).toString('base64url'),
      demo: true,
      env: {
        CUSTODIAN_BUDGET_SUBJECT_PER_HOUR: '100000', CUSTODIAN_BUDGET_SUBJECT_PER_DAY: '1000000', CUSTODIAN_RATE_GLOBAL_PER_MINUTE: '1000000',
        CUSTODIAN_REGISTRATIONS_PER_HOUR: '1000000', CUSTODIAN_REGISTRATIONS_PER_DAY: '1000000', CUSTODIAN_LOG_LEVEL: 'silent',
      },
    });
    const engine = await createHeEngine();
    let heVsPlain = 0, heVsFloat = 0, maxGap = 0, near = 0;
    const start = performance.now();
    try {
      for (const [n, { a, b, d }] of pairs.entries()) {
        if (Math.abs(d - threshold) <= band) near += 1;
        // Each pair as the IdP does it: the template enrolled under its own subject's key, then judged.
        const enrolled = await enrollAt(spawned.client, engine, a, `bench-${n}`);
        const match = (await judgeAt(spawned.client, engine, enrolled, b, threshold)) === 'match';
        if (match !== plainDecision(a, b, threshold)) heVsPlain += 1;
        if (match !== d < threshold) {
          heVsFloat += 1;
          maxGap = Math.max(maxGap, Math.abs(d - threshold));
        }
      }
    } finally {
      engine.close();
    }
    return {
      status: 'ok',
      decisions: pairs.length,
      nearThreshold: near,
      heVsPlainQuantised: heVsPlain,
      heVsFloat,
      maxGapOfFloatDisagreement: maxGap,
      quantisationMargin: quantisationMargin(threshold),
      msPerDecision: (performance.now() - start) / pairs.length,
    };
  } catch (error) {
    return { status: 'skipped', reason: `encrypted path failed: ${(error as Error).message}` };
  } finally {
    await spawned?.stop().catch(() => undefined);
    await rm(keyDir, { recursive: true, force: true });
  }
}
