import { z } from 'zod';
import { isAppError, type Logger } from '../../shared/index.ts';
import { isWasmTrap } from '../../he/index.ts';
import type { AuditLog } from './audit.ts';
import type { Judge } from './judge.ts';
import type { RateLimiter } from './rateLimit.ts';
import { TicketError, type TicketStore } from './tickets.ts';

/**
 * The custodian's four operations, transport-free: health, publicKey, ticket, judge. Nothing here
 * returns a decrypted value, a score or key material other than the public key.
 */
export interface ServiceResponse {
  header: Record<string, unknown>;
  payload?: Uint8Array;
}

export interface CustodianService {
  handle(header: Record<string, unknown>, payload: Buffer): ServiceResponse;
}

export interface CustodianServiceDeps {
  paramsVersion: string;
  publicKey: Uint8Array;
  keyId: Uint8Array;
  judge: Judge;
  tickets: TicketStore;
  limiter: RateLimiter;
  audit: AuditLog;
  logger: Logger;
}

const Subject = z.string().regex(/^[\w.:=-]{1,128}$/);
const Request = z.discriminatedUnion('op', [
  z.object({ op: z.literal('health') }).strict(),
  z.object({ op: z.literal('publicKey') }).strict(),
  z.object({ op: z.literal('ticket'), subject: Subject }).strict(),
  z.object({ op: z.literal('judge'), ticket: z.string().regex(/^[\w-]{16,128}$/) }).strict(),
]);

export const errorResponse = (code: string, message: string): ServiceResponse => ({ header: { ok: false, code, message } });

export function createCustodianService(deps: CustodianServiceDeps): CustodianService {
  const { audit } = deps;

  function judge(ticket: string, blinded: Buffer): ServiceResponse {
    let claim;
    try {
      claim = deps.tickets.redeem(ticket);
    } catch (error) {
      if (error instanceof TicketError) audit.record({ op: 'judge', outcome: `refused:ticket_${error.reason}` });
      throw error;
    }
    try {
      // The ticket is spent whatever happens next: a refused ciphertext cannot be retried for free.
      // The judge refuses a ciphertext made for other HE parameters than its own, which are the
      // ones the ticket was issued for (he_params_mismatch).
      const verdict = deps.judge.judge(blinded) ? 'match' : 'no_match';
      audit.record({ op: 'judge', subject: claim.subject, outcome: verdict });
      return { header: { ok: true, verdict } };
    } catch (error) {
      audit.record({ op: 'judge', subject: claim.subject, outcome: `refused:${isAppError(error) ? error.code : 'internal'}` });
      throw error;
    }
  }

  function ticket(subject: string): ServiceResponse {
    const decision = deps.limiter.take(subject);
    if (!decision.ok) {
      audit.record({ op: 'ticket', subject, outcome: 'rate_limited' });
      return { header: { ok: false, code: 'custodian_rate_limited', message: 'Too many attempts; try again later.', scope: decision.scope, retryAfterMs: decision.retryAfterMs } };
    }
    const grant = deps.tickets.issue(subject, deps.paramsVersion);
    audit.record({ op: 'ticket', subject, outcome: 'issued' });
    return { header: { ok: true, ticket: grant.ticket, expiresAt: grant.expiresAt } };
  }

  return {
    handle(header, payload) {
      const parsed = Request.safeParse(header);
      if (!parsed.success) return errorResponse('custodian_bad_request', 'Malformed request.');
      const request = parsed.data;
      if (request.op !== 'judge' && payload.length > 0) return errorResponse('custodian_bad_request', 'Unexpected payload.');
      try {
        switch (request.op) {
          case 'health':
            return { header: { ok: true, status: 'ok', paramsVersion: deps.paramsVersion } };
          case 'publicKey':
            return { header: { ok: true, paramsVersion: deps.paramsVersion, keyId: Buffer.from(deps.keyId).toString('hex') }, payload: deps.publicKey };
          case 'ticket':
            return ticket(request.subject);
          case 'judge':
            return judge(request.ticket, payload);
        }
      } catch (error) {
        if (isAppError(error)) return errorResponse(error.code, error.message);
        // A WASM trap leaves SEAL's heap unusable: let the process die and be restarted.
        if (isWasmTrap(error)) throw error;
        deps.logger.error({ err: error, op: request.op }, 'custodian request failed');
        return errorResponse('custodian_internal', 'Internal custodian error.');
      }
    },
  };
}
