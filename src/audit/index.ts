import { createHmac } from 'node:crypto';
import type { AuditEventRow, AuditFilter, AuditQueries, Db, NewAuditEvent } from '../db/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { Logger } from '../shared/index.ts';

/**
 * Security events (sign-in success and denial, enrollment, deletion, key rotation, client
 * changes). Never biometric data, secrets or tokens: the detail object carries codes and counts.
 */
export type AuditType =
  | 'signin'
  | 'signup'
  | 'face_refused'
  | 'account_deleted'
  | 'face_reset'
  | 'face_reenrolled'
  // A legacy face model's template replaced by one of the current model on a sign-in (detail: from, to).
  | 'face_migrated'
  | 'keys_rotated'
  | 'client_added'
  | 'client_deleted'
  | 'lockout'
  | 'totp_enabled'
  | 'totp_disabled'
  | 'totp_denied'
  | 'recovery_codes_regenerated'
  | 'admin_login'
  // The operators' console (src/admin): each with detail.actor 'operator'.
  | 'account_locked'
  | 'account_unlocked'
  | 'face_removed'
  | 'client_secret_rotated'
  | 'template_tampered'
  | 'passkey_signin'
  | 'liveness_refused'
  | 'passkey_registered'
  | 'passkey_removed'
  | 'consent_revoked';

export interface AuditEvent extends NewAuditEvent {
  type: AuditType;
}

export interface Audit {
  /** `trx`: record inside that transaction (the event commits or rolls back with the change it records). */
  record(event: AuditEvent, trx?: Db): Promise<void>;
  /** A stable pseudonym for a deleted account: the trail keeps that it happened, not who. */
  pseudonym(accountId: string): string;
  /** Replaces the account id in past events by its pseudonym (inside the deletion transaction). */
  forget(accountId: string, trx: Db): Promise<void>;
  /** Events, newest first (the account page's recent sign-ins, the operators' audit view). */
  list(filter: AuditFilter): Promise<AuditEventRow[]>;
}

export function createAudit(deps: { queries: AuditQueries; logger: Logger; pseudonymKey: Uint8Array; metrics?: Metrics }): Audit {
  const pseudonym = (accountId: string) =>
    `anon:${createHmac('sha256', deps.pseudonymKey).update(`audit:${accountId}`).digest('base64url').slice(0, 22)}`;
  return {
    pseudonym,
    async forget(accountId, trx) {
      await deps.queries.pseudonymise(accountId, pseudonym(accountId), trx);
    },
    list: (filter) => deps.queries.list(filter),
    async record(event, trx) {
      await deps.queries.insert(event, trx);
      deps.metrics?.securityEvents.inc({ type: event.type, outcome: event.outcome });
      deps.logger.info({ audit: event.type, outcome: event.outcome, clientId: event.clientId ?? undefined }, 'audit event');
    },
  };
}
