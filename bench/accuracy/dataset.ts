/** The accuracy benchmark's data set: identities, images, genuine and impostor pairs (LFW format). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

// ---------------------------------------------------------------------------------------------
// Data set

export interface Dataset {
  keys: string[]; // "<identity>/<n>"
  files: string[];
  identity: string[];
  genuine: [number, number][];
  listedImpostors: [number, number][];
  pairsSource: string;
}

export function listIdentities(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const identity of readdirSync(dir).sort()) {
    const sub = path.join(dir, identity);
    if (identity.startsWith('.') || !statSync(sub).isDirectory()) continue;
    const stems = readdirSync(sub)
      .filter((f) => /\.(jpe?g|png)$/i.test(f))
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    if (stems.length) out.set(identity, stems);
  }
  return out;
}

/** Deterministic PRNG (mulberry32), so that --limit subsets and samples are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function buildDataset(dir: string, pairsFile: string | undefined, options: { limit?: number; extra: number; enroll: number; seed: number }): Dataset {
  const ids = listIdentities(dir);
  const keys: string[] = [];
  const files: string[] = [];
  const identity: string[] = [];
  const index = new Map<string, number>();
  const fileOf = (id: string, n: string) => {
    const stems = ids.get(id);
    return stems?.find((f) => f.replace(/\.[^.]+$/, '') === n);
  };
  const add = (id: string, n: string): number | undefined => {
    const key = `${id}/${n}`;
    const known = index.get(key);
    if (known !== undefined) return known;
    const file = fileOf(id, n);
    if (!file) return undefined;
    index.set(key, keys.length);
    keys.push(key);
    files.push(path.join(dir, id, file));
    identity.push(id);
    return keys.length - 1;
  };
  const genuine: [number, number][] = [];
  const listedImpostors: [number, number][] = [];
  let pairsSource: string;
  if (pairsFile) {
    const matched: [string, string, string, string][] = [];
    const mismatched: [string, string, string, string][] = [];
    for (const line of readFileSync(pairsFile, 'utf8').split(/\r?\n/)) {
      const f = line.trim().split(/\s+/);
      if (f.length === 3) matched.push([f[0]!, f[1]!, f[0]!, f[2]!]);
      else if (f.length === 4) mismatched.push([f[0]!, f[1]!, f[2]!, f[3]!]);
    }
    const m = options.limit ? matched.slice(0, Math.ceil(options.limit / 2)) : matched;
    const mm = options.limit ? mismatched.slice(0, Math.floor(options.limit / 2)) : mismatched;
    let missing = 0;
    for (const [list, out] of [[m, genuine], [mm, listedImpostors]] as const) {
      for (const [a, na, b, nb] of list) {
        const i = add(a, na), j = add(b, nb);
        if (i === undefined || j === undefined) missing += 1;
        else out.push([i, j]);
      }
    }
    pairsSource = `${path.basename(pairsFile)}: ${genuine.length} matched + ${listedImpostors.length} mismatched pairs${missing ? ` (${missing} skipped: image not in DIR)` : ''}`;
  } else {
    // Genuine pairs generated within identities (at most 10 per identity), whole identities in order.
    const random = rng(options.seed);
    const budget = options.limit ?? Number.POSITIVE_INFINITY;
    for (const [id, stems] of ids) {
      if (stems.length < 2) continue;
      if (genuine.length >= budget) break;
      const idx = stems.map((f) => add(id, f.replace(/\.[^.]+$/, ''))!);
      const all: [number, number][] = [];
      for (let a = 0; a < idx.length; a += 1) for (let b = a + 1; b < idx.length; b += 1) all.push([idx[a]!, idx[b]!]);
      for (let k = all.length - 1; k > 0; k -= 1) {
        const r = Math.floor(random() * (k + 1));
        [all[k], all[r]] = [all[r]!, all[k]!];
      }
      genuine.push(...all.slice(0, 10));
    }
    pairsSource = `generated: ${genuine.length} same-identity pairs (no pairs file)`;
  }
  // Extra images: identities with > K images, those already present first, K + 2 images each.
  let extra = Math.min(options.extra, options.limit ?? Number.POSITIVE_INFINITY);
  const present = new Set(identity);
  const candidates = [...ids.entries()].filter(([, stems]) => stems.length > Math.max(1, options.enroll));
  candidates.sort(([a], [b]) => Number(present.has(b)) - Number(present.has(a)) || a.localeCompare(b));
  for (const [id, stems] of candidates) {
    if (extra <= 0) break;
    for (const f of stems.slice(0, Math.max(2, options.enroll) + 2)) {
      if (extra <= 0) break;
      const before = keys.length;
      add(id, f.replace(/\.[^.]+$/, ''));
      if (keys.length > before) extra -= 1;
    }
  }
  return { keys, files, identity, genuine, listedImpostors, pairsSource };
}
