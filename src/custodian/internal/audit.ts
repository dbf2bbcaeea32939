import { createHmac } from 'node:crypto';
import { closeSync, fchmodSync, fstatSync, openSync, writeSync } from 'node:fs';
import type { Clock } from '../../shared/index.ts';

/**
 * Append-only audit log of the custodian (JSON lines, mode 0600): time, operation, a keyed hash of
 * the (already pseudonymous) subject, outcome. Never biometric data, ciphertexts, tickets or values.
 * Alerts (a budget exhausted, a burst, a template that is not the registered one) are lines with
 * op "alert": this log is the custodian's own record, which a compromised web tier cannot edit.
 */
export type AuditOutcome = 'issued' | 'match' | 'no_match' | 'rate_limited' | 'registered' | 'activated' | 'forgotten' | 'started' | `refused:${string}` | `alert:${string}`;

export interface AuditEntry {
  op: 'register' | 'activate' | 'forget' | 'ticket' | 'decoy' | 'judge' | 'start' | 'alert';
  subject?: string;
  outcome: AuditOutcome;
  detail?: Record<string, string | number>;
}

export interface AuditLog {
  record(entry: AuditEntry): void;
  close(): void;
}

export function createAuditLog(options: { path: string; subjectKey: Uint8Array; clock: Clock }): AuditLog {
  const fd = openSync(options.path, 'a', 0o600);
  if ((fstatSync(fd).mode & 0o077) !== 0) fchmodSync(fd, 0o600);
  let open = true;
  const reference = (subject: string) => createHmac('sha256', options.subjectKey).update(subject).digest('base64url').slice(0, 22);
  return {
    record(entry) {
      if (!open) return;
      const line = JSON.stringify({
        time: new Date(options.clock.now()).toISOString(),
        op: entry.op,
        ...(entry.subject === undefined ? {} : { subjectRef: reference(entry.subject) }),
        outcome: entry.outcome,
        ...(entry.detail ? { detail: entry.detail } : {}),
      });
      writeSync(fd, `${line}\n`);
    },
    close() {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}
