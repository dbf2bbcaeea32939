import { deriveKey } from '../shared/index.ts';
import type { Config } from './index.ts';

/**
 * The IdP's derived keys, all in one place (one per purpose, from SEALING_KEY or the first cookie
 * key): none is stored anywhere, so a database reader can forge none of what they protect.
 */
export interface IdpKeys {
  /** Pseudonyms of deleted accounts in the audit trail. */
  readonly auditPseudonym: Buffer;
  /** Pseudonymous custodian subjects (the custodian never sees account ids). */
  readonly custodianSubject: Buffer;
  /** MACs binding a template row to its account. */
  readonly templateBinding: Buffer;
  /** Keyed hashes of recovery codes. */
  readonly recoveryCodePepper: Buffer;
  /** Keyed hashes of device cookies (known_devices). */
  readonly deviceCookie: Buffer;
  /** Keyed hashes of OIDC payload ids (tokens, codes, sessions). */
  readonly oidcPayloadId: Buffer;
  /** CSRF token MACs (rotates with the cookie keys). */
  readonly csrf: Buffer;
  /** WebAuthn user handles (what an authenticator stores instead of the account id). */
  readonly passkeyUserHandle: Buffer;
  /**
   * Pairwise subject identifiers (OpenID Connect Core 1.0, 8.1): the salt that makes a sector's
   * `sub` unguessable from the account id. Derived from SEALING_KEY, so a new SEALING_KEY gives
   * every pairwise client new subjects.
   */
  readonly pairwiseSubject: Buffer;
  /** Keyed hashes of the camera frames of checked bursts (a replayed burst is refused). */
  readonly livenessFrame: Buffer;
}

export function deriveIdpKeys(config: Pick<Config, 'sealingKey' | 'cookieKeys'>): IdpKeys {
  const root = config.sealingKey;
  return Object.freeze({
    auditPseudonym: deriveKey(root, 'audit-pseudonym'),
    custodianSubject: deriveKey(root, 'custodian-subject'),
    templateBinding: deriveKey(root, 'template-binding'),
    recoveryCodePepper: deriveKey(root, 'recovery-code-pepper'),
    deviceCookie: deriveKey(root, 'device-cookie'),
    oidcPayloadId: deriveKey(root, 'oidc-payload-id'),
    csrf: deriveKey(Buffer.from(config.cookieKeys[0]!, 'utf8'), 'csrf'),
    passkeyUserHandle: deriveKey(root, 'passkey-user-handle'),
    pairwiseSubject: deriveKey(root, 'pairwise-subject'),
    livenessFrame: deriveKey(root, 'liveness-frame'),
  });
}
