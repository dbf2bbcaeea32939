import { createHmac, randomBytes } from 'node:crypto';
import type { Metrics } from '../metrics/index.ts';
import { AppError, isAppError, silentLogger, type Logger } from '../shared/index.ts';

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
  issueTicket(subject: string): Promise<unknown>;
  judge(ticket: never, blinded: Uint8Array): Promise<'match' | 'no_match'>;
}

export interface StoredTemplate {
  ciphertext: Uint8Array;
  heParams: string;
  modelVersion: string;
}

export type EnrolledTemplate = StoredTemplate;

export interface BiometricService {
  enroll(frames: Uint8Array[]): Promise<EnrolledTemplate>;
  /**
   * Verifies frames against a stored template. `template` undefined (unknown user, no template)
   * runs the same face work against a decoy so that the response does not reveal whether the
   * username exists, and returns false.
   */
  verify(input: { accountId: string | undefined; template: StoredTemplate | undefined; frames: Uint8Array[] }): Promise<boolean>;
}

export interface BiometricDeps {
  face: FacePort;
  /** Resolves the HE engine; it needs the custodian's public key, so it may fail while the custodian is down. */
  he: () => Promise<HePort>;
  custodian: CustodianPort;
  threshold: number;
  /** Key for pseudonymous custodian subjects: the custodian never sees account ids. */
  subjectKey: Uint8Array;
  logger?: Logger;
  metrics?: Metrics;
}

export function createBiometricService(deps: BiometricDeps): BiometricService {
  const logger = deps.logger ?? silentLogger;
  let decoy: { ciphertext: Uint8Array; paramsVersion: string } | undefined;

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
      const verdict = await deps.custodian.judge(ticket as never, blinded);
      stop?.({ result: 'ok' });
      return verdict;
    } catch (error) {
      stop?.({ result: isAppError(error) ? error.code : 'error' });
      throw error;
    }
  }

  const subjectOf = (accountId: string) =>
    createHmac('sha256', deps.subjectKey).update(`custodian-subject:${accountId}`).digest('base64url');

  async function decoyTemplate(he: HePort, dimension: number): Promise<Uint8Array> {
    if (!decoy || decoy.paramsVersion !== he.paramsVersion) {
      const values = new Float32Array(dimension);
      const noise = randomBytes(dimension);
      for (let i = 0; i < dimension; i += 1) values[i] = (noise[i]! - 127.5) / 1024;
      decoy = { ciphertext: he.encryptTemplate(values), paramsVersion: he.paramsVersion };
    }
    return decoy.ciphertext;
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

    verify: ({ accountId, template, frames }) => timed('verify', async () => {
      const probe = await deps.face.probe(frames);
      try {
        const he = await deps.he();
        if (!template || accountId === undefined) {
          // Same work as a real attempt up to the custodian call; the answer is always "no".
          he.matchAndBlind(await decoyTemplate(he, probe.length), probe, deps.threshold);
          return false;
        }
        if (template.heParams !== he.paramsVersion || template.modelVersion !== deps.face.modelVersion) {
          // A template made for other parameters or another face model cannot be compared: the
          // account must re-enroll. Fail closed, and say why to operators.
          logger.warn({ accountId, heParams: template.heParams, modelVersion: template.modelVersion }, 'template version mismatch');
          throw new AppError('template_outdated', 'Your face enrollment is out of date; please ask for a re-enrollment.', { status: 409 });
        }
        const blinded = he.matchAndBlind(template.ciphertext, probe, deps.threshold);
        return (await judge(subjectOf(accountId), blinded)) === 'match';
      } finally {
        probe.fill(0);
      }
    }),
  };
}
