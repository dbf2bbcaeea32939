import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Metrics } from '../metrics/index.ts';
import { AppError, isAppError, silentLogger, type Logger } from '../shared/index.ts';

/**
 * The face factor as one capability: frames -> encrypted template (enrollment), and frames +
 * encrypted template -> one bit (verification). It composes the face engine (descriptors), the
 * public-key HE engine (encrypt, match, blind) and the key custodian (the only party that can
 * read the blinded result). Plaintext descriptors exist only inside these calls. The ports below
 * are defined here, by their consumer.
 */

export interface FacePort {
  readonly modelVersion: string;
  /** Older models whose templates still verify, with their thresholds (src/face LEGACY_MODELS). */
  readonly legacy?: ReadonlyArray<{ readonly modelVersion: string; readonly threshold: number }>;
  enroll(frames: Uint8Array[]): Promise<Float32Array>;
  /** A probe of the current model, or of the legacy model `modelVersion`. */
  probe(frames: Uint8Array[], modelVersion?: string): Promise<Float32Array>;
}

export interface HeKeyPort {
  publicKey: Uint8Array;
  keyId: Uint8Array;
}

export interface HePort {
  readonly paramsVersion: string;
  encryptTemplate(descriptor: Float32Array, key: HeKeyPort): Uint8Array;
  matchAndBlind(template: Uint8Array, probe: Float32Array, threshold: number, key: HeKeyPort): Uint8Array;
}

export interface TicketPort {
  ticket: string;
  key: HeKeyPort;
  paramsVersion: string;
}

export interface CustodianPort {
  register(subject: string): Promise<HeKeyPort & { paramsVersion: string }>;
  activate(subject: string, keyId: Uint8Array, templateHash: string): Promise<void>;
  forget(subject: string): Promise<boolean>;
  ticket(subject: string, templateHash: string): Promise<TicketPort>;
  decoy(): Promise<TicketPort>;
  /** The custodian's one bit (the only place a verdict comes from). */
  judge(ticket: string, blinded: Uint8Array): Promise<'match' | 'no_match'>;
}

/** A template as stored with its account (column names are the accounts module's business). */
export interface StoredTemplate {
  ciphertext: Uint8Array;
  heParams: string;
  modelVersion: string;
  /** The custodian key it was encrypted under (16 bytes); null for templates from before per-subject keys. */
  keyId: Uint8Array | null;
  /** Binds the row to its account (see `bind`); null for templates from before it existed. */
  mac: Uint8Array | null;
}

/**
 * The outcome of a verification: the custodian's verdict (`match`, `no_match`), or why no verdict
 * was asked for: `no_template`: unknown user or no template; `outdated`: a template made for other HE
 * parameters, another face model, or not enrolled with the custodian, which cannot be compared;
 * `tampered`: a template that is not bound to this account (its MAC fails, or the custodian
 * does not recognise it). Only `match` signs in; the others look the same to the user (a
 * denial), so they reveal nothing about the account.
 */
export type VerifyOutcome = 'match' | 'no_match' | 'no_template' | 'outdated' | 'tampered';

export interface EnrollInput {
  accountId: string;
  frames: Uint8Array[];
  /**
   * Runs after the face work and before anything is registered: e.g. the sign-up's "is the
   * username free" check, which must not be a cheap oracle (it costs a real enrollment).
   */
  check?: () => Promise<void>;
  /**
   * Stores the template; must call `activate()` before its transaction commits, so that the
   * custodian binds the new key to exactly this template (and destroys the previous key).
   */
  store: (template: StoredTemplate, activate: () => Promise<void>) => Promise<void>;
}

export interface VerifyInput {
  accountId: string | undefined;
  template: StoredTemplate | undefined;
  frames: Uint8Array[];
  /**
   * Migration (a template of a legacy face model): called after a match with a template of the
   * current model, made from the same frames, to store in place of the old one (same contract
   * as EnrollInput.store). Without it, or with too few frames, the old template stays.
   */
  renew?: EnrollInput['store'];
}

export interface BiometricService {
  readonly modelVersion: string;
  /** Older face models whose templates still verify (and migrate on a successful sign-in). */
  readonly legacyModelVersions: readonly string[];
  /** The HE parameter set new templates are made under; templates of another cannot be compared. */
  readonly heParamsVersion: string;
  enroll(input: EnrollInput): Promise<void>;
  /**
   * Verifies frames against a stored template. Without a usable template the same work runs
   * against a decoy, a custodian round trip included, so that neither the answer nor its timing
   * tells whether the username exists or its template is usable.
   */
  verify(input: VerifyInput): Promise<VerifyOutcome>;
  /** The pseudonymous reference under which the custodian knows the account. */
  subjectOf(accountId: string): string;
  /** Destroys the account's key at the custodian (the template can never be judged again). */
  forget(subject: string): Promise<boolean>;
}

export interface BiometricDeps {
  face: FacePort;
  he: HePort;
  custodian: CustodianPort;
  threshold: number;
  /** Key for pseudonymous custodian subjects: the custodian never sees account ids. */
  subjectKey: Uint8Array;
  /** Key for the template MACs: the database does not hold it, so a row cannot be moved to another account. */
  bindingKey: Uint8Array;
  logger?: Logger;
  metrics?: Metrics;
  /** Told about templates that fail their integrity checks (an audited alert). */
  onTampered?: (accountId: string, reason: 'mac' | 'custodian') => Promise<void>;
}

/** SHA-256 of a template envelope, base64url: what the custodian binds a subject's key to. */
export const templateHash = (ciphertext: Uint8Array) => createHash('sha256').update(ciphertext).digest('base64url');

export function createBiometricService(deps: BiometricDeps): BiometricService {
  const logger = deps.logger ?? silentLogger;
  const { he, custodian } = deps;
  // The decoy template, per decoy key (the custodian makes a new decoy key when it restarts).
  let decoy: { keyId: string; ciphertext: Uint8Array } | undefined;

  async function timed<T>(step: 'enroll' | 'verify', work: () => Promise<T>): Promise<T> {
    const stop = deps.metrics?.faceStep.startTimer({ step });
    try {
      return await work();
    } finally {
      stop?.();
    }
  }

  async function call<T>(op: string, work: () => Promise<T>): Promise<T> {
    const stop = deps.metrics?.custodianCall.startTimer({ op });
    try {
      const result = await work();
      stop?.({ result: 'ok' });
      return result;
    } catch (error) {
      stop?.({ result: isAppError(error) ? error.code : 'error' });
      throw error;
    }
  }

  const subjectOf = (accountId: string) =>
    createHmac('sha256', deps.subjectKey).update(`custodian-subject:${accountId}`).digest('base64url');

  /**
   * MAC over everything that makes a template this account's: account id, ciphertext (by hash),
   * parameter set, face model and key id. Copying A's row into B's breaks it.
   */
  function bind(accountId: string, t: Pick<StoredTemplate, 'ciphertext' | 'heParams' | 'modelVersion'> & { keyId: Uint8Array }): Buffer {
    return createHmac('sha256', deps.bindingKey)
      .update(['faceid-fhe/template/v1', accountId, t.heParams, t.modelVersion, Buffer.from(t.keyId).toString('hex'), templateHash(t.ciphertext)].join('\0'))
      .digest();
  }

  function macValid(accountId: string, t: StoredTemplate): boolean {
    if (!t.mac || !t.keyId) return false;
    const expected = bind(accountId, { ...t, keyId: t.keyId });
    return t.mac.byteLength === expected.length && timingSafeEqual(Buffer.from(t.mac), expected);
  }

  function decoyTemplate(key: HeKeyPort, dimension: number): Uint8Array {
    const id = Buffer.from(key.keyId).toString('hex');
    if (decoy?.keyId !== id) {
      const values = new Float32Array(dimension);
      const noise = randomBytes(dimension);
      for (let i = 0; i < dimension; i += 1) values[i] = (noise[i]! - 127.5) / 1024;
      decoy = { keyId: id, ciphertext: he.encryptTemplate(values, key) };
    }
    return decoy.ciphertext;
  }

  /** The same work as a real attempt (ticket, match, judge) against a decoy; the answer is always "no". */
  async function decoyJudgement(probe: Float32Array, verdict: Exclude<VerifyOutcome, 'match' | 'no_match'>): Promise<VerifyOutcome> {
    const ticket = await call('decoy', () => custodian.decoy());
    const blinded = he.matchAndBlind(decoyTemplate(ticket.key, probe.length), probe, deps.threshold, ticket.key);
    await call('judge', () => custodian.judge(ticket.ticket, blinded));
    return verdict;
  }

  /** The legacy model a template was made with, if it is one this IdP still verifies. */
  const legacyOf = (template: StoredTemplate | undefined) => (template ? deps.face.legacy?.find((m) => m.modelVersion === template.modelVersion) : undefined);

  /** Why a stored template cannot be compared, or undefined when it can. */
  function unusable(accountId: string, template: StoredTemplate): 'outdated' | 'tampered' | undefined {
    const model = template.modelVersion === deps.face.modelVersion || legacyOf(template) !== undefined;
    if (template.heParams !== he.paramsVersion || !model || !template.keyId || !template.mac) return 'outdated';
    if (!macValid(accountId, template)) return 'tampered';
    return undefined;
  }

  async function tampered(accountId: string, reason: 'mac' | 'custodian'): Promise<void> {
    logger.error({ accountId, reason }, 'a face template failed its integrity check');
    await deps.onTampered?.(accountId, reason);
  }

  /** Frames -> a template of the current model, encrypted under a new custodian key for the account, stored. */
  async function enrollFrames(input: EnrollInput): Promise<void> {
    const descriptor = await deps.face.enroll(input.frames);
    try {
      await input.check?.();
      const subject = subjectOf(input.accountId);
      const key = await call('register', () => custodian.register(subject));
      if (key.paramsVersion !== he.paramsVersion) {
        throw new AppError('he_params_mismatch', 'The custodian uses another HE parameter set than this IdP.', { status: 503, expose: false });
      }
      const ciphertext = he.encryptTemplate(descriptor, key);
      const template: StoredTemplate = { ciphertext, heParams: he.paramsVersion, modelVersion: deps.face.modelVersion, keyId: key.keyId, mac: null };
      template.mac = bind(input.accountId, { ...template, keyId: key.keyId });
      await input.store(template, () => call('activate', () => custodian.activate(subject, key.keyId, templateHash(ciphertext))));
    } finally {
      descriptor.fill(0);
    }
  }

  /**
   * A legacy template just matched: the account gets a template of the current model from the
   * same frames, and the old one is retired (the store replaces it; the custodian's new key
   * replaces the old one). If that fails (too few frames, a refused frame, the custodian or the
   * database down), the old template stays and the sign-in stands: the user proved their face.
   */
  async function migrate(accountId: string, from: string, frames: Uint8Array[], store: EnrollInput['store']): Promise<void> {
    try {
      await enrollFrames({ accountId, frames, store });
      logger.info({ accountId, from, to: deps.face.modelVersion }, 'face template migrated to the current model');
    } catch (error) {
      logger.warn({ accountId, from, code: isAppError(error) ? error.code : 'internal' }, 'face template not migrated; the old one stays');
    }
  }

  return {
    modelVersion: deps.face.modelVersion,
    legacyModelVersions: (deps.face.legacy ?? []).map((m) => m.modelVersion),
    heParamsVersion: he.paramsVersion,
    subjectOf,
    forget: (subject) => call('forget', () => custodian.forget(subject)),

    enroll: (input) => timed('enroll', () => enrollFrames(input)),

    verify: ({ accountId, template, frames, renew }) => timed('verify', async (): Promise<VerifyOutcome> => {
      // A legacy template is compared with a probe of its own model (the same work as a probe of
      // the current one). The face engine consumes the frames it is given, so a copy is kept for
      // the migration, and zeroed below whatever happens.
      const legacy = legacyOf(template);
      const kept = legacy && renew ? frames.map((frame) => frame.slice()) : undefined;
      const probe = await deps.face.probe(frames, legacy?.modelVersion);
      try {
        if (!template || accountId === undefined) return await decoyJudgement(probe, 'no_template');
        const problem = unusable(accountId, template);
        if (problem === 'tampered') await tampered(accountId, 'mac');
        else if (problem) logger.warn({ accountId, heParams: template.heParams, modelVersion: template.modelVersion }, 'template is out of date');
        if (problem) return await decoyJudgement(probe, problem);

        let ticket: TicketPort;
        try {
          ticket = await call('ticket', () => custodian.ticket(subjectOf(accountId), templateHash(template.ciphertext)));
        } catch (error) {
          const code = isAppError(error) ? error.code : undefined;
          if (code === 'custodian_template_mismatch') {
            await tampered(accountId, 'custodian');
            return 'tampered';
          }
          if (code === 'custodian_subject_unknown') {
            logger.warn({ accountId }, 'the custodian does not know this account (template from before per-subject keys, or a lost custodian store)');
            return 'outdated';
          }
          throw error;
        }
        let blinded: Uint8Array;
        try {
          blinded = he.matchAndBlind(template.ciphertext, probe, legacy?.threshold ?? deps.threshold, ticket.key);
        } catch (error) {
          if (!isAppError(error) || error.code !== 'he_key_mismatch') throw error;
          // The custodian's key for this subject is not the one the template was made under.
          logger.warn({ accountId }, 'template was made under another custodian key');
          return 'outdated';
        }
        const verdict = await call('judge', () => custodian.judge(ticket.ticket, blinded));
        if (verdict === 'match' && legacy && renew) await migrate(accountId, legacy.modelVersion, kept!, renew);
        return verdict;
      } finally {
        probe.fill(0);
        for (const frame of kept ?? []) frame.fill(0);
      }
    }),
  };
}
