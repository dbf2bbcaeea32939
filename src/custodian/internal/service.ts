import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AppError, isAppError, type Clock, type ErrorCode, type Logger } from '../../shared/index.ts';
import { isWasmTrap, type HeContext } from '../../he/keyside.ts';
import type { AuditLog } from './audit.ts';
import type { Alert, Budget, Decision } from './budget.ts';
import type { Judge } from './judge.ts';
import { generateKeyPair, publicKeyFor, type KeySealer } from './keys.ts';
import type { CustodianMetrics } from './metrics.ts';
import type { Registry } from './registry.ts';
import { TicketError, type TicketStore } from './tickets.ts';

/**
 * The custodian's operations, transport-free. It decides who a subject is (its registry), issues
 * tickets only for registered subjects and for the template each was activated with, spends each
 * subject's budget, and answers one bit. Nothing here returns a decrypted value, a score, or key
 * material other than public keys.
 *
 *   register {subject}                 -> new key pair, pending; the public key (payload) + key id
 *   activate {subject, keyId, templateHash} -> the pending key becomes the subject's key, bound to
 *                                         that template; the previous key is destroyed
 *   forget   {subject}                 -> the subject's keys are destroyed (its templates, in any
 *                                         backup, can never be judged again)
 *   ticket   {subject, templateHash}   -> single-use ticket + a public key of the subject's key
 *   decoy    {}                        -> a ticket whose judgement is always no_match (unknown
 *                                         usernames do the same work as known ones)
 *   judge    {ticket} + blinded        -> match | no_match
 *   health   {}
 */
export interface ServiceResponse {
  header: Record<string, unknown>;
  payload?: Uint8Array;
}

export interface CustodianService {
  handle(header: Record<string, unknown>, payload: Buffer): ServiceResponse;
}

export interface CustodianServiceDeps {
  he: HeContext;
  registry: Registry;
  sealer: KeySealer;
  budget: Budget;
  judge: Judge;
  tickets: TicketStore;
  audit: AuditLog;
  metrics: CustodianMetrics;
  clock: Clock;
  logger: Logger;
}

const Subject = z.string().regex(/^[\w.:=-]{1,128}$/);
const KeyId = z.string().regex(/^[0-9a-f]{32}$/);
const TemplateHash = z.string().regex(/^[\w-]{43}$/);
const Request = z.discriminatedUnion('op', [
  z.object({ op: z.literal('health') }).strict(),
  z.object({ op: z.literal('register'), subject: Subject }).strict(),
  z.object({ op: z.literal('activate'), subject: Subject, keyId: KeyId, templateHash: TemplateHash }).strict(),
  z.object({ op: z.literal('forget'), subject: Subject }).strict(),
  z.object({ op: z.literal('ticket'), subject: Subject, templateHash: TemplateHash }).strict(),
  z.object({ op: z.literal('decoy') }).strict(),
  z.object({ op: z.literal('judge'), ticket: z.string().regex(/^[\w-]{16,128}$/) }).strict(),
]);

export const errorResponse = (code: string, message: string, extra: Record<string, unknown> = {}): ServiceResponse => ({ header: { ok: false, code, message, ...extra } });

const refusal = (code: ErrorCode, message: string, status: number) => new AppError(code, message, { status });

export function createCustodianService(deps: CustodianServiceDeps): CustodianService {
  const { audit, registry, he, metrics } = deps;
  const now = () => deps.clock.now();

  // The decoy key lives only in memory (a new one per start), sealed like a subject's key so that
  // a decoy ticket costs the same work as a real one: a registry read, an AES-GCM open, a SEAL load.
  const decoyPair = generateKeyPair(he);
  const decoySubject = `decoy-${randomBytes(8).toString('hex')}`;
  const decoySealed = deps.sealer.seal(he, decoyPair, decoySubject);
  const decoyKeyId = decoyPair.keyId;
  decoyPair.secretKey.delete();

  function raise(alerts: Alert[], subject: string | null): void {
    for (const alert of alerts) {
      metrics.alerts.inc({ alert });
      audit.record({ op: 'alert', ...(subject === null ? {} : { subject }), outcome: `alert:${alert}` });
      deps.logger.warn({ alert }, 'custodian alert');
    }
  }

  function refuseBudget(op: 'ticket' | 'decoy' | 'register' | 'forget', subject: string | null, decision: Exclude<Decision, { ok: true }>): never {
    raise(decision.alerts, decision.scope === 'subject' ? subject : null);
    audit.record({ op, ...(subject === null ? {} : { subject }), outcome: 'rate_limited', detail: { scope: decision.scope } });
    metrics.requests.inc({ op, outcome: 'rate_limited' });
    throw Object.assign(refusal('custodian_rate_limited', 'Too many attempts; try again later.', 429), { scope: decision.scope, retryAfterMs: decision.retryAfterMs });
  }

  function withKey<T>(sealed: Uint8Array, subject: string, keyId: Uint8Array, use: (key: ReturnType<KeySealer['open']>) => T): T {
    const secretKey = deps.sealer.open(he, sealed, subject, keyId);
    try {
      return use(secretKey);
    } finally {
      secretKey.delete();
    }
  }

  const ticketResponse = (grant: { ticket: string; expiresAt: number }, keyId: Buffer, publicKey: Uint8Array): ServiceResponse => ({
    header: { ok: true, ticket: grant.ticket, expiresAt: grant.expiresAt, keyId: keyId.toString('hex'), paramsVersion: he.params.version },
    payload: publicKey,
  });

  const ops = {
    health: (): ServiceResponse => ({ header: { ok: true, status: 'ok', paramsVersion: he.params.version } }),

    register(subject: string): ServiceResponse {
      const decision = deps.budget.registration(subject, now());
      if (!decision.ok) refuseBudget('register', subject, decision);
      const pair = generateKeyPair(he);
      try {
        registry.putPending({ subject, keyId: pair.keyId, sealedKey: deps.sealer.seal(he, pair, subject), paramsVersion: he.params.version, createdAt: now() });
        const publicKey = publicKeyFor(he, pair.secretKey);
        audit.record({ op: 'register', subject, outcome: 'registered' });
        metrics.requests.inc({ op: 'register', outcome: 'registered' });
        return { header: { ok: true, keyId: pair.keyId.toString('hex'), paramsVersion: he.params.version }, payload: publicKey };
      } finally {
        pair.secretKey.delete();
      }
    },

    activate(subject: string, keyId: string, templateHash: string): ServiceResponse {
      if (!registry.activate(subject, Buffer.from(keyId, 'hex'), templateHash, now())) {
        audit.record({ op: 'activate', subject, outcome: 'refused:registration_unknown' });
        throw refusal('custodian_registration_unknown', 'No pending registration with that key for this subject.', 409);
      }
      metrics.subjects.set(registry.subjects());
      audit.record({ op: 'activate', subject, outcome: 'activated' });
      metrics.requests.inc({ op: 'activate', outcome: 'activated' });
      return { header: { ok: true } };
    },

    forget(subject: string): ServiceResponse {
      const decision = deps.budget.forget(now());
      if (!decision.ok) refuseBudget('forget', null, decision);
      const existed = registry.forget(subject);
      metrics.subjects.set(registry.subjects());
      audit.record({ op: 'forget', subject, outcome: existed ? 'forgotten' : 'refused:subject_unknown' });
      metrics.requests.inc({ op: 'forget', outcome: existed ? 'forgotten' : 'unknown' });
      return { header: { ok: true, existed } };
    },

    ticket(subject: string, templateHash: string): ServiceResponse {
      const active = registry.active(subject);
      if (!active) {
        audit.record({ op: 'ticket', subject, outcome: 'refused:subject_unknown' });
        metrics.requests.inc({ op: 'ticket', outcome: 'refused:subject_unknown' });
        throw refusal('custodian_subject_unknown', 'This subject is not enrolled with the custodian.', 403);
      }
      if (active.templateHash !== templateHash) {
        // Not the template this subject was enrolled with: a row swapped in the IdP's database,
        // or a compromised web tier. Refused, audited as an alert.
        raise(deps.budget.alert('template_mismatch', subject, now(), 60_000) ? ['template_mismatch'] : [], subject);
        audit.record({ op: 'ticket', subject, outcome: 'refused:template_mismatch' });
        metrics.requests.inc({ op: 'ticket', outcome: 'refused:template_mismatch' });
        throw refusal('custodian_template_mismatch', 'This template is not the one the subject was enrolled with.', 403);
      }
      const decision = deps.budget.ticket(subject, now());
      if (!decision.ok) refuseBudget('ticket', subject, decision);
      raise(decision.alerts, subject);
      const publicKey = withKey(active.sealedKey, subject, active.keyId, (secretKey) => publicKeyFor(he, secretKey));
      const grant = deps.tickets.issue({ subject, keyId: active.keyId, paramsVersion: active.paramsVersion });
      audit.record({ op: 'ticket', subject, outcome: 'issued' });
      metrics.requests.inc({ op: 'ticket', outcome: 'issued' });
      return ticketResponse(grant, active.keyId, publicKey);
    },

    decoy(): ServiceResponse {
      const decision = deps.budget.decoy(now());
      if (!decision.ok) refuseBudget('decoy', null, decision);
      registry.active(decoySubject); // the same registry read as a real ticket (it finds nothing)
      const publicKey = withKey(decoySealed, decoySubject, decoyKeyId, (secretKey) => publicKeyFor(he, secretKey));
      const grant = deps.tickets.issue({ subject: null, keyId: decoyKeyId, paramsVersion: he.params.version });
      metrics.requests.inc({ op: 'decoy', outcome: 'issued' });
      return ticketResponse(grant, decoyKeyId, publicKey);
    },

    judge(ticket: string, blinded: Buffer): ServiceResponse {
      let claim;
      try {
        claim = deps.tickets.redeem(ticket);
      } catch (error) {
        if (error instanceof TicketError) {
          audit.record({ op: 'judge', outcome: `refused:ticket_${error.reason}` });
          metrics.requests.inc({ op: 'judge', outcome: `refused:ticket_${error.reason}` });
        }
        throw error;
      }
      // The ticket is spent whatever happens next: a refused ciphertext cannot be retried for free.
      if (claim.subject === null) {
        // Decoy: decrypted like any result (same work), and the answer is always "no".
        registry.active(decoySubject);
        withKey(decoySealed, decoySubject, decoyKeyId, (secretKey) => deps.judge.judge(blinded, secretKey, decoyKeyId));
        metrics.requests.inc({ op: 'judge', outcome: 'decoy' });
        return { header: { ok: true, verdict: 'no_match' } };
      }
      const subject = claim.subject;
      const active = registry.active(subject);
      if (!active || !active.keyId.equals(claim.keyId)) {
        // Forgotten or re-enrolled since the ticket was issued.
        audit.record({ op: 'judge', subject, outcome: 'refused:ticket_stale' });
        throw new TicketError('stale');
      }
      try {
        const verdict = withKey(active.sealedKey, subject, active.keyId, (secretKey) => deps.judge.judge(blinded, secretKey, active.keyId)) ? 'match' : 'no_match';
        audit.record({ op: 'judge', subject, outcome: verdict });
        metrics.requests.inc({ op: 'judge', outcome: verdict });
        return { header: { ok: true, verdict } };
      } catch (error) {
        audit.record({ op: 'judge', subject, outcome: `refused:${isAppError(error) ? error.code : 'internal'}` });
        throw error;
      }
    },
  };

  return {
    handle(header, payload) {
      const parsed = Request.safeParse(header);
      if (!parsed.success) return errorResponse('custodian_bad_request', 'Malformed request.');
      const request = parsed.data;
      if (request.op !== 'judge' && payload.length > 0) return errorResponse('custodian_bad_request', 'Unexpected payload.');
      try {
        switch (request.op) {
          case 'health':
            return ops.health();
          case 'register':
            return ops.register(request.subject);
          case 'activate':
            return ops.activate(request.subject, request.keyId, request.templateHash);
          case 'forget':
            return ops.forget(request.subject);
          case 'ticket':
            return ops.ticket(request.subject, request.templateHash);
          case 'decoy':
            return ops.decoy();
          case 'judge':
            return ops.judge(request.ticket, payload);
        }
      } catch (error) {
        if (isAppError(error)) {
          const extra = error.code === 'custodian_rate_limited' ? { scope: (error as { scope?: string }).scope, retryAfterMs: (error as { retryAfterMs?: number }).retryAfterMs } : {};
          return errorResponse(error.code, error.message, extra);
        }
        // A WASM trap leaves SEAL's heap unusable: let the process die and be restarted.
        if (isWasmTrap(error)) throw error;
        deps.logger.error({ err: error, op: request.op }, 'custodian request failed');
        return errorResponse('custodian_internal', 'Internal custodian error.');
      }
    },
  };
}
