/**
 * The quality gate's sweep (bench/accuracy.ts, "Quality gate"): the same images with the gate
 * off, at each candidate rule, and at the production rule, so that what a rule refuses and what
 * it buys are read off one run. A refused image counts as a failure to acquire (to enroll, when
 * it is one of a template's images), exactly as production refuses the frame.
 */
import { qualityRefusal, type FaceQuality, type QualityRule } from '../../src/face/research.ts';
import type { Dataset } from './dataset.ts';
import { distance } from '../../src/face/research.ts';
import { enrollment, genuineDistances, impostorDistances, verification, type Outcome } from './metrics.ts';

export interface GateRow {
  readonly label: string;
  readonly rule: QualityRule;
  /** Images the rule refuses, among those acquired without it. */
  readonly refused: { turned: number; blurred: number; of: number };
  /** FRR at the threshold of acquired genuine pairs (gate off) with an image the rule refuses, and of the others. */
  readonly frrRefusedPairs: { pairs: number; frr: number };
  readonly frrKeptPairs: { pairs: number; frr: number };
  /** Single image vs single image at the threshold and at FAR 1e-4, refusals counted as rejects (all) and not (acquired). */
  readonly single: { far: number; frr: number; frrAcquired: number; frrAt1e4: number; frrAt1e4Acquired: number };
  /** K-image templates vs one image, the same. */
  readonly template: { far: number; frr: number; frrAcquired: number; frrAt1e4: number; frrAt1e4Acquired: number; failedToEnroll: number } | null;
}

export function gated(ungated: readonly Outcome[], quality: readonly (FaceQuality | undefined)[], rule: QualityRule): Outcome[] {
  return ungated.map((o, i) => (typeof o === 'string' || !quality[i] ? o : qualityRefusal(quality[i]!, rule) ?? o));
}

export function qualitySweep(ds: Dataset, ungated: readonly Outcome[], quality: readonly (FaceQuality | undefined)[], rules: readonly { label: string; rule: QualityRule }[], options: { k: number; threshold: number; normalise: boolean; cap: number; seed: number }): GateRow[] {
  const { k, threshold, normalise, cap, seed } = options;
  return rules.map(({ label, rule }) => {
    const outcomes = gated(ungated, quality, rule);
    const refused = { turned: 0, blurred: 0, of: ungated.filter((o) => typeof o !== 'string').length };
    outcomes.forEach((o, i) => {
      if (typeof ungated[i] === 'string') return;
      if (o === 'face_turned') refused.turned += 1;
      if (o === 'face_blurred') refused.blurred += 1;
    });
    const split = { refused: [0, 0], kept: [0, 0] };
    for (const [i, j] of ds.genuine) {
      const a = ungated[i]!, b = ungated[j]!;
      if (typeof a === 'string' || typeof b === 'string') continue;
      const side = typeof outcomes[i] === 'string' || typeof outcomes[j] === 'string' ? split.refused : split.kept;
      side[0]! += 1;
      if (distance(a, b) >= threshold) side[1]! += 1;
    }
    const single = verification(genuineDistances(ds.genuine, outcomes), impostorDistances(ds, outcomes, cap, seed), threshold);
    const t = k > 1 ? enrollment(ds, outcomes, k, threshold, normalise, cap, seed) : null;
    const at4 = (v: typeof single) => v.atFar.find((a) => a.far === 1e-4)!;
    return {
      label, rule, refused,
      frrRefusedPairs: { pairs: split.refused[0]!, frr: split.refused[1]! / Math.max(1, split.refused[0]!) },
      frrKeptPairs: { pairs: split.kept[0]!, frr: split.kept[1]! / Math.max(1, split.kept[0]!) },
      single: { far: single.far, frr: single.frr, frrAcquired: single.frrAcquired, frrAt1e4: 1 - at4(single).tar, frrAt1e4Acquired: 1 - at4(single).tarAcquired },
      template: t && { far: t.verification.far, frr: t.verification.frr, frrAcquired: t.verification.frrAcquired, frrAt1e4: 1 - at4(t.verification).tar, frrAt1e4Acquired: 1 - at4(t.verification).tarAcquired, failedToEnroll: t.failedToEnroll },
    };
  });
}
