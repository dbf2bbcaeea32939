import { createHash, createPublicKey, createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

/**
 * A software WebAuthn authenticator for HTTP tests (what Chromium's virtual authenticator does in
 * the browser tests): an ES256 key per credential, attestation "none", a signature counter, and
 * the flags a platform authenticator sets. It signs whatever origin it is told, so tests can
 * present assertions from a wrong origin, replay old ones, or reuse another account's key.
 */
export interface SoftCredential {
  id: Buffer;
  key: KeyObject;
  publicJwk: { x: string; y: string };
  userHandle: Buffer;
  counter: number;
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

function authenticatorData(rpId: string, flags: number, counter: number, attested?: Buffer): Buffer {
  const count = Buffer.alloc(4);
  count.writeUInt32BE(counter);
  return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

export function createSoftAuthenticator(options: { rpId: string; origin: string; userVerified?: boolean }) {
  const credentials: SoftCredential[] = [];
  const flags = FLAG_UP | (options.userVerified === false ? 0 : FLAG_UV);
  const clientData = (type: string, challenge: string, origin = options.origin) =>
    Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }), 'utf8');

  return {
    credentials,
    /** navigator.credentials.create with the server's creation options. */
    register(creation: { challenge: string; user: { id: string } }, overrides: { origin?: string; credential?: SoftCredential } = {}) {
      // `credential`: attest an existing key again (an authenticator that ignores excludeCredentials).
      const { privateKey, publicKey } = overrides.credential
        ? { privateKey: overrides.credential.key, publicKey: createPublicKey(overrides.credential.key) }
        : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
      const id = overrides.credential?.id ?? randomBytes(16);
      const cose = new Map<number, number | Uint8Array>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x, 'base64url')], [-3, Buffer.from(jwk.y, 'base64url')]]);
      const idLength = Buffer.alloc(2);
      idLength.writeUInt16BE(id.length);
      const attested = Buffer.concat([Buffer.alloc(16), idLength, id, Buffer.from(isoCBOR.encode(cose))]);
      const authData = authenticatorData(options.rpId, flags | FLAG_AT, 0, attested);
      const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]) as never);
      if (!overrides.credential) credentials.push({ id, key: privateKey, publicJwk: jwk, userHandle: Buffer.from(creation.user.id, 'base64url'), counter: 0 });
      return {
        id: b64url(id),
        rawId: b64url(id),
        type: 'public-key',
        response: { clientDataJSON: b64url(clientData('webauthn.create', creation.challenge, overrides.origin)), attestationObject: b64url(attestationObject), transports: ['internal'] },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      };
    },
    /** navigator.credentials.get with the server's request options (the first or a given credential). */
    authenticate(request: { challenge: string }, overrides: { origin?: string; credential?: SoftCredential; counter?: number } = {}) {
      const credential = overrides.credential ?? credentials[0];
      if (!credential) throw new Error('no credential registered');
      // A forced counter plays a clone (a copy of the key with its own counter): the real
      // authenticator's counter is left as it was.
      const counter = overrides.counter ?? (credential.counter += 1);
      const authData = authenticatorData(options.rpId, flags, counter);
      const clientDataJSON = clientData('webauthn.get', request.challenge, overrides.origin);
      const signer = createSign('sha256');
      signer.update(Buffer.concat([authData, sha256(clientDataJSON)]));
      const signature = signer.sign(credential.key);
      return {
        id: b64url(credential.id),
        rawId: b64url(credential.id),
        type: 'public-key',
        response: { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature), userHandle: b64url(credential.userHandle) },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      };
    },
  };
}
