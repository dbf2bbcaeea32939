import { createHash, randomBytes } from 'node:crypto';
import { AppError, type Clock } from '../../shared/index.ts';

/**
 * Single-use judge tickets: random, short-lived, bound to one subject, the key it was issued
 * under (which is bound to one template) and one parameter version; or a decoy ticket, whose
 * judgement is always "no match".
 * Only hashes are kept. A redeemed ticket is remembered until it would have expired, so a replay
 * is audited as such rather than as an unknown ticket.
 */
export interface TicketGrant {
  ticket: string;
  expiresAt: number;
}

export interface TicketClaim {
  /** null for a decoy ticket. */
  subject: string | null;
  keyId: Buffer;
  paramsVersion: string;
}

export type TicketRefusal = 'unknown' | 'expired' | 'reused' | 'stale';

export interface TicketStore {
  issue(claim: TicketClaim): TicketGrant;
  /** Consumes the ticket; throws custodian_ticket_invalid with `reason` set. */
  redeem(ticket: string): TicketClaim;
  readonly size: number;
}

export class TicketError extends AppError {
  readonly reason: TicketRefusal;
  constructor(reason: TicketRefusal) {
    super('custodian_ticket_invalid', 'The ticket is unknown, expired or already used.', { status: 403 });
    this.reason = reason;
  }
}

interface Entry extends TicketClaim {
  expiresAt: number;
  used: boolean;
}

const hash = (ticket: string) => createHash('sha256').update(ticket).digest('base64url');

export function createTicketStore(options: { clock: Clock; ttlMs: number; maxOutstanding?: number }): TicketStore {
  const entries = new Map<string, Entry>();
  const maxOutstanding = options.maxOutstanding ?? 100_000;

  function sweep(now: number): void {
    for (const [key, entry] of entries) if (entry.expiresAt <= now) entries.delete(key);
  }

  return {
    issue(claim) {
      const now = options.clock.now();
      if (entries.size >= maxOutstanding) sweep(now);
      if (entries.size >= maxOutstanding) {
        throw new AppError('custodian_rate_limited', 'Too many outstanding tickets.', { status: 429 });
      }
      const ticket = randomBytes(32).toString('base64url');
      const expiresAt = now + options.ttlMs;
      entries.set(hash(ticket), { ...claim, expiresAt, used: false });
      return { ticket, expiresAt };
    },
    redeem(ticket) {
      const key = hash(ticket);
      const entry = entries.get(key);
      const now = options.clock.now();
      if (!entry) throw new TicketError('unknown');
      if (entry.expiresAt <= now) {
        entries.delete(key);
        throw new TicketError('expired');
      }
      if (entry.used) throw new TicketError('reused');
      entry.used = true;
      return { subject: entry.subject, keyId: entry.keyId, paramsVersion: entry.paramsVersion };
    },
    get size() {
      return entries.size;
    },
  };
}
