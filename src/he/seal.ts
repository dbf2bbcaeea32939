import { readFile } from 'node:fs/promises';
import initialize from 'node-seal';
import type { Ciphertext, MainModule, Plaintext, PublicKey, SEALContext } from 'node-seal';
import { AppError, type ErrorCode } from '../shared/index.ts';
import type { HeParams } from './params.ts';

/**
 * node-seal (Microsoft SEAL 4.1 in WebAssembly) loaded once per process, plus the few byte-level
 * helpers SEAL's JS binding lacks. Every SEAL object is a handle into the WASM heap: whoever
 * creates one deletes it (try/finally), or the heap grows and never shrinks.
 */
export type SealModule = MainModule & {
  getExceptionMessage(error: unknown): [string, string];
  decrementExceptionRefcount(error: unknown): void;
};

// tsconfig's lib has no WebAssembly typings; this is the part of the global used here.
interface WasmMemory { readonly buffer: ArrayBuffer }
interface WasmApi {
  instantiate(bytes: Uint8Array, imports: unknown): Promise<{ instance: { exports: Record<string, unknown> }; module: unknown }>;
  Memory: abstract new (...args: never[]) => WasmMemory;
  Exception?: abstract new (...args: never[]) => object;
  RuntimeError: abstract new (...args: never[]) => Error;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** A WASM trap (abort, out of memory): the module's state can no longer be trusted. */
export function isWasmTrap(error: unknown): boolean {
  return error instanceof wasm.RuntimeError;
}

interface LoadedSeal {
  seal: SealModule;
  memory: WasmMemory | undefined;
}

let loading: Promise<LoadedSeal> | undefined;

async function load(): Promise<LoadedSeal> {
  // Instantiated here (not by the loader) only to keep a handle on the WASM memory, whose size
  // the heap-stability test and operators watch.
  const bytes = await readFile(new URL('seal_throws.wasm', import.meta.resolve('node-seal')));
  let memory: WasmMemory | undefined;
  let failed: ((error: unknown) => void) | undefined;
  const failure = new Promise<never>((_, reject) => { failed = reject; });
  const seal = (await Promise.race([
    initialize({
      instantiateWasm(imports: unknown, receive: (instance: unknown, module: unknown) => void) {
        wasm.instantiate(bytes, imports).then(({ instance, module }) => {
          memory = Object.values(instance.exports).find((value): value is WasmMemory => value instanceof wasm.Memory);
          receive(instance, module);
        }, (error: unknown) => failed?.(error));
        return {};
      },
    }),
    failure,
  ])) as SealModule;
  return { seal, memory };
}

export function loadSeal(): Promise<SealModule> {
  loading ??= load().catch((cause: unknown) => {
    loading = undefined;
    throw new AppError('he_unavailable', 'The HE library failed to load (node-seal needs Node >= 22).', { cause });
  });
  return loading.then((loaded) => loaded.seal);
}

/** Current size of the SEAL WASM heap in bytes (it only ever grows). */
export async function sealHeapBytes(): Promise<number> {
  await loadSeal();
  const loaded = await loading!;
  return loaded.memory?.buffer.byteLength ?? 0;
}

/** Runs `fn`; a SEAL exception becomes a typed AppError with SEAL's message as the cause. */
export function sealCall<T>(seal: SealModule, code: ErrorCode, message: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof AppError) throw error;
    let detail = error instanceof Error ? error.message : String(error);
    if (wasm.Exception && error instanceof wasm.Exception) {
      detail = seal.getExceptionMessage(error).join(': ');
      // The C++ exception object lives in the WASM heap until its last reference is dropped.
      seal.decrementExceptionRefcount(error);
    }
    throw new AppError(code, message, { cause: new Error(detail) });
  }
}

export function createSealContext(seal: SealModule, params: HeParams): SEALContext {
  const parms = new seal.EncryptionParameters(seal.SchemeType.bgv);
  const moduli = seal.CoeffModulus.Create(params.polyModulusDegree, Int32Array.from(params.coeffModulusBits));
  const plain = new seal.Modulus(BigInt(params.plainModulus));
  try {
    parms.setPolyModulusDegree(params.polyModulusDegree);
    parms.setCoeffModulus(moduli);
    parms.setPlainModulus(plain);
    const context = new seal.SEALContext(parms, true, seal.SecLevelType.tc128);
    if (!context.parametersSet()) {
      context.delete();
      throw new AppError('he_params_invalid', `SEAL rejects parameter set ${params.version}.`);
    }
    return context;
  } finally {
    parms.delete();
    moduli.delete();
    plain.delete();
  }
}

// SEAL 4.1 serialisation (native/src/seal/serialization.h): a 16-byte header
//   u16 magic 0xA15E | u8 header size 16 | u8 major 4 | u8 minor 1 | u8 compr_mode | u16 0 | u64 total size
// A Plaintext body is parms_id (4 x u64) | u64 coeff_count | f64 scale | DynArray (header | u64 n | n x u64).
const SEAL_MAGIC = 0xa15e;
const HEADER_BYTES = 16;
const COMPR_ZSTD = 2;
const PLAIN_DATA_OFFSET = HEADER_BYTES + 32 + 8 + 8 + HEADER_BYTES + 8;

function writeHeader(view: DataView, offset: number, totalSize: number): void {
  view.setUint16(offset, SEAL_MAGIC, true);
  view.setUint8(offset + 2, HEADER_BYTES);
  view.setUint8(offset + 3, 4);
  view.setUint8(offset + 4, 1);
  view.setUint8(offset + 5, 0);
  view.setUint16(offset + 6, 0, true);
  view.setBigUint64(offset + 8, BigInt(totalSize), true);
}

/** A coefficient-encoded plaintext from coefficients already reduced into [0, t). */
export function plaintextFromCoefficients(seal: SealModule, context: SEALContext, coefficients: Uint32Array): Plaintext {
  const n = coefficients.length;
  const total = PLAIN_DATA_OFFSET + 8 * n;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  writeHeader(view, 0, total);
  view.setBigUint64(HEADER_BYTES + 32, BigInt(n), true);
  view.setFloat64(HEADER_BYTES + 40, 1, true);
  writeHeader(view, HEADER_BYTES + 48, total - (HEADER_BYTES + 48));
  view.setBigUint64(PLAIN_DATA_OFFSET - 8, BigInt(n), true);
  for (let i = 0; i < n; i += 1) view.setUint32(PLAIN_DATA_OFFSET + 8 * i, coefficients[i]!, true);
  const plaintext = new seal.Plaintext();
  try {
    sealCall(seal, 'he_internal', 'Could not build a plaintext.', () => plaintext.loadFromArray(context, bytes));
  } catch (error) {
    plaintext.delete();
    throw error;
  } finally {
    bytes.fill(0);
  }
  return plaintext;
}

/** Coefficient `index` of a (decrypted) plaintext, centred into [-t/2, t/2). */
export function centredCoefficient(seal: SealModule, plaintext: Plaintext, index: number, plainModulus: number): number {
  const bytes = plaintext.saveToArray(seal.ComprModeType.none) as Uint8Array;
  try {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < PLAIN_DATA_OFFSET || view.getUint16(0, true) !== SEAL_MAGIC) {
      throw new AppError('he_internal', 'Unexpected plaintext serialisation.');
    }
    const count = Number(view.getBigUint64(PLAIN_DATA_OFFSET - 8, true));
    if (index >= count) return 0; // SEAL trims high zero coefficients
    const value = Number(view.getBigUint64(PLAIN_DATA_OFFSET + 8 * index, true));
    return value >= plainModulus / 2 ? value - plainModulus : value;
  } finally {
    bytes.fill(0);
  }
}

/** SEAL's binding accepts exactly Uint8Array (not a Buffer): a plain view on the same bytes. */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Size and header checks on serialised SEAL data before SEAL parses it; SEAL's own load then
 * validates the content against the context.
 */
export function checkSealBytes(bytes: Uint8Array, maxBytes: number, code: ErrorCode, what: string): void {
  const malformed = (why: string) => new AppError(code, `Malformed ${what}: ${why}.`);
  if (bytes.byteLength < HEADER_BYTES) throw malformed('too short');
  if (bytes.byteLength > maxBytes) throw malformed('too large');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0, true) !== SEAL_MAGIC || view.getUint8(2) !== HEADER_BYTES) throw malformed('bad header');
  if (view.getUint8(3) !== 4 || view.getUint8(5) !== COMPR_ZSTD || view.getUint16(6, true) !== 0) throw malformed('unsupported version or compression');
  if (view.getBigUint64(8, true) !== BigInt(bytes.byteLength)) throw malformed('length mismatch');
}

export function saveCiphertext(seal: SealModule, ciphertext: Ciphertext): Uint8Array {
  return sealCall(seal, 'he_internal', 'Could not serialise a ciphertext.', () => ciphertext.saveToArray(seal.ComprModeType.zstd) as Uint8Array);
}

export function savePublicKey(seal: SealModule, publicKey: PublicKey): Uint8Array {
  return sealCall(seal, 'he_internal', 'Could not serialise a public key.', () => publicKey.saveToArray(seal.ComprModeType.zstd) as Uint8Array);
}

export function loadPublicKey(seal: SealModule, context: SEALContext, params: HeParams, bytes: Uint8Array): PublicKey {
  checkSealBytes(bytes, params.maxPublicKeyBytes, 'he_bad_public_key', 'public key');
  const key = new seal.PublicKey();
  try {
    sealCall(seal, 'he_bad_public_key', 'The HE public key does not fit the parameter set.', () => key.loadFromArray(context, plainBytes(bytes)));
    return key;
  } catch (error) {
    key.delete();
    throw error;
  }
}

export function sameParmsId(a: { values(): unknown }, b: { values(): unknown }): boolean {
  const x = a.values() as ArrayLike<bigint>;
  const y = b.values() as ArrayLike<bigint>;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i += 1) if (x[i] !== y[i]) return false;
  return true;
}
