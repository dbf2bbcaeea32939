import { hkdfSync } from 'node:crypto';

/**
 * Every key the system derives from a root secret (the IdP's SEALING_KEY or cookie key, the
 * custodian's sealing key), with one label format: HKDF-SHA256 (RFC 5869), empty salt, info
 * `faceid-fhe:<purpose>`, 32 bytes. One purpose, one key: the same root never serves two uses.
 */
export function deriveKey(root: Uint8Array, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), `faceid-fhe:${purpose}`, 32));
}
