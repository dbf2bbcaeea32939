import type { Ciphertext, SEALContext } from 'node-seal';
import { AppError } from '../shared/index.ts';
import { getHeParams, type HeParams } from './params.ts';
import { checkSealBytes, createSealContext, loadSeal, plainBytes, sameParmsId, saveCiphertext, sealCall, type SealModule } from './seal.ts';

/**
 * A SEAL context for one parameter set, and the ciphertext envelope that carries the parameter
 * version and the key id with every template and blinded result:
 *
 *   "FHE" | kind (u8: 'T' template, 'B' blinded) | u8 n | version (n ASCII bytes) | key id (16 B) | SEAL ciphertext (zstd)
 *
 * SEAL ciphertexts are not authenticated (SEAL's security notes): the envelope only stops a
 * ciphertext from being read under the wrong parameters, in the wrong role, or under another key.
 * The key id matters for safety, not just tidiness: decrypting a ciphertext under a key other than
 * its own yields a random sign, i.e. a "match" half of the time. A template made under an earlier
 * custodian key must be refused, never judged.
 */
export type CiphertextKind = 'template' | 'blinded';

const MAGIC = [0x46, 0x48, 0x45]; // "FHE"
const KIND_BYTE: Record<CiphertextKind, number> = { template: 0x54, blinded: 0x42 };
const KEY_ID_BYTES = 16;

export interface HeContext {
  readonly seal: SealModule;
  readonly context: SEALContext;
  readonly params: HeParams;
  /** Validates an envelope (version, role, key id) and loads its ciphertext; the caller deletes it. */
  loadCiphertext(envelope: Uint8Array, kind: CiphertextKind, keyId: Uint8Array): Ciphertext;
  saveCiphertext(ciphertext: Ciphertext, kind: CiphertextKind, keyId: Uint8Array): Uint8Array;
  close(): void;
}

/** Reads the parameter version of an envelope (checked before anything else is read). */
function envelopeVersion(envelope: Uint8Array): string {
  if (!(envelope instanceof Uint8Array) || envelope.byteLength < 5 || MAGIC.some((byte, i) => envelope[i] !== byte)) {
    throw new AppError('he_bad_ciphertext', 'Malformed ciphertext envelope.');
  }
  const length = envelope[4]!;
  if (length < 1 || length > 64 || envelope.byteLength < 5 + length) throw new AppError('he_bad_ciphertext', 'Malformed ciphertext envelope.');
  return Buffer.from(envelope.subarray(5, 5 + length)).toString('latin1');
}

function checkKeyId(keyId: Uint8Array): void {
  if (!(keyId instanceof Uint8Array) || keyId.byteLength !== KEY_ID_BYTES) throw new AppError('he_bad_key_id', `A key id is ${KEY_ID_BYTES} bytes.`);
}

function sameKeyId(a: Uint8Array, b: Uint8Array): boolean {
  checkKeyId(b);
  let diff = a.byteLength ^ b.byteLength;
  for (let i = 0; i < Math.min(a.byteLength, b.byteLength); i += 1) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export async function createHeContext(version?: string): Promise<HeContext> {
  const params = getHeParams(version);
  const seal = await loadSeal();
  const context = createSealContext(seal, params);
  // Every loaded ciphertext must sit at the top level of this context; freed in close().
  const firstParmsId = context.firstParmsId();
  const versionBytes = Buffer.from(params.version, 'latin1');
  let closed = false;

  const header = 5 + versionBytes.length + KEY_ID_BYTES;

  function unwrap(envelope: Uint8Array, kind: CiphertextKind, keyId: Uint8Array): Uint8Array {
    const found = envelopeVersion(envelope);
    if (found !== params.version) {
      throw new AppError('he_params_mismatch', `Ciphertext made for HE parameters "${found.replace(/[^\w.-]/g, '?')}", expected "${params.version}".`);
    }
    if (envelope[3] !== KIND_BYTE[kind]) throw new AppError('he_bad_ciphertext', `Not a ${kind} ciphertext.`);
    if (envelope.byteLength < header) throw new AppError('he_bad_ciphertext', 'Malformed ciphertext envelope.');
    const foundId = envelope.subarray(5 + versionBytes.length, header);
    if (!sameKeyId(foundId, keyId)) throw new AppError('he_key_mismatch', `This ${kind} was made under another custodian key.`);
    const body = envelope.subarray(header);
    checkSealBytes(body, params.maxCiphertextBytes, 'he_bad_ciphertext', 'ciphertext');
    return plainBytes(body);
  }

  return {
    seal,
    context,
    params,
    loadCiphertext(envelope, kind, keyId) {
      if (closed) throw new AppError('he_closed', 'The HE context is closed.');
      const body = unwrap(envelope, kind, keyId);
      const ciphertext = new seal.Ciphertext();
      try {
        sealCall(seal, 'he_bad_ciphertext', 'Malformed ciphertext.', () => ciphertext.loadFromArray(context, body));
        const parmsId = ciphertext.parmsId();
        try {
          // A fresh or once-multiplied BGV ciphertext: 2 components, NTT form, top level.
          const shapeOk =
            ciphertext.size() === 2 && ciphertext.isNttForm() && ciphertext.polyModulusDegree() === params.polyModulusDegree &&
            ciphertext.coeffModulusSize() === params.coeffModulusBits.length && sameParmsId(parmsId, firstParmsId);
          if (!shapeOk) throw new AppError('he_bad_ciphertext', 'Ciphertext does not have the expected shape.');
        } finally {
          parmsId.delete();
        }
        return ciphertext;
      } catch (error) {
        ciphertext.delete();
        throw error;
      }
    },
    saveCiphertext(ciphertext, kind, keyId) {
      checkKeyId(keyId);
      const body = saveCiphertext(seal, ciphertext);
      const out = new Uint8Array(header + body.byteLength);
      out.set(MAGIC, 0);
      out[3] = KIND_BYTE[kind];
      out[4] = versionBytes.length;
      out.set(versionBytes, 5);
      out.set(keyId, 5 + versionBytes.length);
      out.set(body, header);
      return out;
    },
    close() {
      if (closed) return;
      closed = true;
      firstParmsId.delete();
      context.delete();
    },
  };
}
