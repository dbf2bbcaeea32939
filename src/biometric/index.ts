import { createHmac, randomBytes } from 'node:crypto';
import type { Metrics } from '../metrics/index.ts';
import { isAppError, silentLogger, type Logger } from '../shared/index.ts';

/**
 * The face factor as one capability: frames -> encrypted template (enrollment), and frames +
 * encrypted template -> one bit (verification). It composes the face engine (descriptors), the
 * public-key HE engine (encrypt, match, blind) and the key custodian (the only party that can
 * read the blinded result). Plaintext descriptors exist only inside these calls.
 */

export interface FacePort {
  readonly modelVersion: string;
  enroll(frames: Uint8Array[]): Promise<Float32Array>;
  probe(frames: Uint8Array[]): Promise<Float32Array>;
}

export interface HePort {
  readonly paramsVersion: string;
  encryptTemplate(descriptor: Float32Array): Uint8Array;
  matchAndBlind(template: Uint8Array, probe: Float32Array, threshold: number): Uint8Array;
}

export interface CustodianPort {
  issueTicket(subject: string): Promise<string>;
  judge(ticket: string, blinded: Uint8Array): Promise<'match' | 'no_match'>;
}

export interface StoredTemplate {
  ciphertext: Uint8Array;
  heParams: string;
  modelVersion: string;
}

export type EnrolledTemplate = StoredTemplate;

/**
 * `no_template`: unknown user or no template; `outdated`: a template made for other HE parameters,
 * another face model or another custodian key, which cannot be compared. Only `match` signs in;
 * the other three look the same to the user (a denial), so they reveal nothing about the account.
 */
export type Verdict = 'match' | 'no_match' | 'no_template' | 'outdated';

export interface BiometricService {
  enroll(frames: Uint8Array[]): Promise<EnrolledTemplate>;
  /**
   * Verifies frames against a stored template. Without a usable template the same face and HE work
   * runs against a decoy, so that neither the answer nor its timing tells whether the username
   * exists or its template is out of date.
   */
  verify(input: { accountId: string | undefined; template: StoredTemplate | undefined; frames: Uint8Array[] }): Promise<Verdict>;
}

export interface BiometricDeps {
  face: FacePort;
  /** Resolves the HE engine; it needs the custodian's public key, so it may fail while the custodian is down. */
  he: () => Promise<HePort>;
  /** Forgets the cached HE engine (the custodian's key changed): the next call fetches the key again. */
  resetHe?: () => void;
  custodian: CustodianPort;
  threshold: number;
  /** Key for pseudonymous custodian subjects: the custodian never sees account ids. */
  subjectKey: Uint8Array;
  logger?: Logger;
  metrics?: Metrics;
}

export function createBiometricService(deps: BiometricDeps): BiometricService {
  const logger = deps.logger ?? silentLogger;
  // One decoy per HE engine: it is encrypted under that engine's custodian key. After a key change
  // the new engine has the same paramsVersion but another key id, and an old decoy would fail with
  // he_key_mismatch for unknown usernames only (telling them apart from real ones).
  const decoys = new WeakMap<HePort, Uint8Array>();

  async function timed<T>(step: 'enroll' | 'verify', work: () => Promise<T>): Promise<T> {
    const stop = deps.metrics?.faceStep.startTimer({ step });
    try {
      return await work();
    } finally {
      stop?.();
    }
  }

  /** Ticket + judge, timed and labelled by outcome; any failure propagates (fail closed). */
  async function judge(subject: string, blinded: Uint8Array): Promise<'match' | 'no_match'> {
    const stop = deps.metrics?.custodianCall.startTimer({ op: 'judge' });
    try {
      const ticket = await deps.custodian.issueTicket(subject);
      const verdict = await deps.custodian.judge(ticket, blinded);
      stop?.({ result: 'ok' });
      return verdict;
    } catch (error) {
      stop?.({ result: isAppError(error) ? error.code : 'error' });
      throw error;
    }
  }

  const subjectOf = (accountId: string) =>
    createHmac('sha256', deps.subjectKey).update(`custodian-subject:${accountId}`).digest('base64url');

  function decoyTemplate(he: HePort, dimension: number): Uint8Array {
    let ciphertext = decoys.get(he);
    if (!ciphertext) {
      const values = new Float32Array(dimension);
      const noise = randomBytes(dimension);
      for (let i = 0; i < dimension; i += 1) values[i] = (noise[i]! - 127.5) / 1024;
      ciphertext = he.encryptTemplate(values);
      decoys.set(he, ciphertext);
    }
    return ciphertext;
  }

  return {
    enroll: (frames) => timed('enroll', async () => {
      const descriptor = await deps.face.enroll(frames);
      try {
        const he = await deps.he();
        return { ciphertext: he.encryptTemplate(descriptor), heParams: he.paramsVersion, modelVersion: deps.face.modelVersion };
      } finally {
        descriptor.fill(0);
      }
    }),

    verify: ({ accountId, template, frames }) => timed('verify', async (): Promise<Verdict> => {
      const probe = await deps.face.probe(frames);
      try {
        const he = await deps.he();
        const decoy = (verdict: Verdict): Verdict => {
          // Same work as a real attempt up to the custodian call; the answer is always "no".
          he.matchAndBlind(decoyTemplate(he, probe.length), probe, deps.threshold);
          return verdict;
        };
        if (!template || accountId === undefined) return decoy('no_template');
        if (template.heParams !== he.paramsVersion || template.modelVersion !== deps.face.modelVersion) {
          // Made for other parameters or another face model: it cannot be compared, the account
          // must re-enroll. Fail closed like an unknown user, and tell operators.
          logger.warn({ accountId, heParams: template.heParams, modelVersion: template.modelVersion }, 'template is out of date');
          return decoy('outdated');
        }
        let blinded: Uint8Array;
        try {
          blinded = he.matchAndBlind(template.ciphertext, probe, deps.threshold);
        } catch (error) {
          if (!isAppError(error) || error.code !== 'he_key_mismatch') throw error;
          logger.warn({ accountId }, 'template was made under another custodian key');
          return 'outdated';
        }
        try {
          return await judge(subjectOf(accountId), blinded);
        } catch (error) {
          if (!isAppError(error) || error.code !== 'he_key_mismatch') throw error;
          // The custodian's key is not the one this process encrypts for: its templates are all
          // unusable. Refetch the key for new enrollments; this attempt is a denial.
          logger.error({ accountId }, 'the key custodian has another key than the one templates were made for');
          deps.resetHe?.();
          return 'outdated';
        }
      } finally {
        probe.fill(0);
      }
    }),
  };
}
