/**
 * Multi-image probes (bench/accuracy.ts, "Multi-image probe"). A sign-in's probe is the consensus
 * mean of several frames (FaceEngine.probe: the burst's 3 key frames with PAD, the page's 3
 * frames without). LFW has no bursts, so here the probe is the consensus of M photos of an
 * identity (the ones after its K template photos), set against each of those photos alone, on
 * the same identities and templates. LFW's photos of a person are years apart, a burst's frames
 * a fraction of a second: averaging photos shows the most averaging can buy; a burst's frames,
 * being near-duplicates, buy less. The impostor side is what must not move: a mean probe sits
 * nearer the centre of face space, so nearer everyone's template. Impostor probes are the
 * consensus of every pair of one identity's acquired photos (at most `pairsPerIdentity`, so that
 * a few much-photographed people do not dominate), against every template of another identity:
 * millions of comparisons, enough to read a FAR of 1e-4 (the genuine side has one probe per
 * identity with K + M photos).
 */
import { DEFAULT_CONSENSUS_LIMITS } from '../../src/face/research.ts';
import type { Dataset } from './dataset.ts';
import { consensusOf, verification, type Measure, type Outcome, type Verification } from './metrics.ts';

export interface FusionResult {
  readonly m: number;
  readonly identities: number;
  readonly failedToEnroll: number;
  /** Each of the M photos alone against the template. */
  readonly single: Verification;
  /** The consensus of the M photos against the template. */
  readonly fused: Verification;
  /** The sorted distances behind `single` and `fused` (not for --json). */
  readonly distances: { single: { genuine: number[]; impostors: Float32Array }; fused: { genuine: number[]; impostors: Float32Array } };
}

const consensus = (outcomes: Outcome[], images: number[], minFrames: number, normalise: boolean) => consensusOf(outcomes, images, { minFrames, normalise });

export function probeFusion(ds: Dataset, outcomes: Outcome[], options: { k: number; m: number; threshold: number; normalise: boolean; measure: Measure; pairsPerIdentity?: number }): FusionResult | null {
  const { k, m, threshold, normalise, measure } = options;
  const pairsPerIdentity = options.pairsPerIdentity ?? 45;
  const byId = new Map<string, number[]>();
  ds.identity.forEach((id, i) => byId.set(id, [...(byId.get(id) ?? []), i]));
  const rows: { id: string; template: Float32Array | undefined; singles: (Float32Array | undefined)[]; fused: Float32Array | undefined }[] = [];
  for (const [id, images] of byId) {
    if (images.length < k + m) continue;
    const probeImages = images.slice(k, k + m);
    rows.push({
      id,
      template: consensus(outcomes, images.slice(0, k), Math.min(k, DEFAULT_CONSENSUS_LIMITS.minEnrollFrames), normalise),
      singles: probeImages.map((i) => { const o = outcomes[i]!; return typeof o === 'string' ? undefined : o; }),
      fused: consensus(outcomes, probeImages, DEFAULT_CONSENSUS_LIMITS.minProbeFrames, normalise),
    });
  }
  if (rows.length === 0) return null;
  const d = (t: Float32Array | undefined, p: Float32Array | undefined) => (t && p ? measure(t, p) : Number.NaN);
  const genuineSingle = rows.flatMap((r) => r.singles.map((p) => d(r.template, p)));
  const genuineFused = rows.map((r) => d(r.template, r.fused));
  // Impostor probes: single acquired photos, and the consensus of pairs of one identity's photos.
  const singles: { id: string; d: Float32Array }[] = [];
  const pairs: { id: string; d: Float32Array }[] = [];
  for (const [id, images] of byId) {
    const acquired = images.filter((i) => typeof outcomes[i] !== 'string');
    for (const i of acquired) singles.push({ id, d: outcomes[i] as Float32Array });
    let made = 0;
    for (let a = 0; a < acquired.length && made < pairsPerIdentity; a += 1) {
      for (let b = a + 1; b < acquired.length && made < pairsPerIdentity; b += 1) {
        const fused = consensus(outcomes, [acquired[a]!, acquired[b]!], DEFAULT_CONSENSUS_LIMITS.minProbeFrames, normalise);
        if (fused) pairs.push({ id, d: fused });
        made += 1;
      }
    }
  }
  const impSingle: number[] = [], impFused: number[] = [];
  for (const t of rows) {
    if (!t.template) continue;
    for (const p of singles) if (p.id !== t.id) impSingle.push(measure(t.template, p.d));
    for (const p of pairs) if (p.id !== t.id) impFused.push(measure(t.template, p.d));
  }
  const single = { genuine: genuineSingle, impostors: Float32Array.from(impSingle).sort() };
  const fused = { genuine: genuineFused, impostors: Float32Array.from(impFused).sort() };
  return {
    m,
    identities: rows.length,
    failedToEnroll: rows.filter((r) => !r.template).length,
    single: verification(single.genuine, single.impostors, threshold),
    fused: verification(fused.genuine, fused.impostors, threshold),
    distances: { single, fused },
  };
}
