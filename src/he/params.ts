import { AppError } from '../shared/index.ts';

/**
 * Versioned BGV parameter sets. A template stores the version it was made with; a ciphertext of
 * another version is refused, never reinterpreted. Never change a published set: add a new one.
 *
 * Chosen by measurement (bench/match.ts, test/unit/he/noise.test.ts):
 * - N = 2048 with one 54-bit prime: the largest q that N = 2048 allows at 128-bit classical
 *   security (HomomorphicEncryption.org standard, 2018, table 1: log q <= 54). A fresh public-key
 *   ciphertext is ~30.9 KB with zstd (N = 4096 would be ~88 KB, over the 32 KB budget).
 * - Descriptors must have |x| <= maxNorm, so a quantised squared distance is at most
 *   maxDistanceSq = 4 (maxNorm s)^2 and the blinded value r (tau - 1 - d) + e stays inside
 *   (-t/2, t/2) for every r <= blindingMax = floor(t / (2 maxDistanceSq)).
 * - One plaintext multiplication costs ~log2 |P|_2 bits of noise budget and |P|_2 grows with
 *   r and s, t grows with r s^2: the budget left is roughly 39 - 2 log2 rMax - 3 log2(s maxNorm).
 *   s = 64 with t = 2^24 gives rMax = 128 and >= 4 bits left on the worst-case probe (measured);
 *   doubling s costs ~3 bits, which would force rMax down to ~45.
 */
export interface HeParams {
  readonly version: string;
  readonly scheme: 'bgv';
  readonly polyModulusDegree: number;
  readonly coeffModulusBits: readonly number[];
  readonly plainModulus: number;
  /** Quantisation scale s: element x becomes round(x * s). */
  readonly scale: number;
  /** Descriptor dimension D (D + 1 <= N: the squared norm rides at x^D). */
  readonly dimension: number;
  /** Largest accepted Euclidean norm of a descriptor. */
  readonly maxNorm: number;
  /** L = floor((maxNorm * s)^2): bound on a quantised squared norm. */
  readonly maxNormSq: number;
  /** 4L: bound on a quantised squared distance. */
  readonly maxDistanceSq: number;
  /** Largest blinding factor r. */
  readonly blindingMax: number;
  /** Cap on a serialised ciphertext envelope, checked before SEAL parses it. */
  readonly maxCiphertextBytes: number;
  /** Cap on a serialised public key. */
  readonly maxPublicKeyBytes: number;
}

type BaseParams = Pick<HeParams, 'version' | 'scheme' | 'polyModulusDegree' | 'coeffModulusBits' | 'plainModulus' | 'scale' | 'dimension' | 'maxNorm'>;

function defineParams(base: BaseParams): HeParams {
  const { polyModulusDegree: n, plainModulus: t, dimension: d } = base;
  const maxNormSq = Math.floor((base.maxNorm * base.scale) ** 2);
  const maxDistanceSq = 4 * maxNormSq;
  const blindingMax = Math.floor(t / (2 * maxDistanceSq));
  // Raw SEAL size of a 2-component ciphertext is 2 * N * k * 8 bytes plus headers; zstd output
  // of incompressible data can exceed its input slightly, hence the slack.
  const rawCiphertext = 2 * n * base.coeffModulusBits.length * 8;
  const ok =
    Number.isInteger(t) && t >= 2 && t < 2 ** 32 &&
    Number.isInteger(d) && d >= 1 && d + 1 <= n &&
    blindingMax >= 1 && maxNormSq >= 1 && base.version.length <= 64 && /^[a-z0-9.-]+$/.test(base.version);
  if (!ok) throw new AppError('he_params_invalid', `HE parameter set ${base.version} is inconsistent.`);
  return Object.freeze({
    ...base,
    coeffModulusBits: Object.freeze([...base.coeffModulusBits]),
    maxNormSq,
    maxDistanceSq,
    blindingMax,
    maxCiphertextBytes: rawCiphertext + 4096,
    maxPublicKeyBytes: rawCiphertext + 4096,
  });
}

export const HE_PARAM_SETS: Readonly<Record<string, HeParams>> = Object.freeze({
  'bgv-2048-v1': defineParams({
    version: 'bgv-2048-v1',
    scheme: 'bgv',
    polyModulusDegree: 2048,
    coeffModulusBits: [54],
    plainModulus: 2 ** 24,
    scale: 64,
    dimension: 128,
    maxNorm: 2,
  }),
});

export const DEFAULT_HE_PARAMS: HeParams = HE_PARAM_SETS['bgv-2048-v1']!;

export function getHeParams(version: string = DEFAULT_HE_PARAMS.version): HeParams {
  const params = Object.hasOwn(HE_PARAM_SETS, version) ? HE_PARAM_SETS[version] : undefined;
  if (!params) throw new AppError('he_params_unknown', `Unknown HE parameter set "${version.slice(0, 64)}".`);
  return params;
}
