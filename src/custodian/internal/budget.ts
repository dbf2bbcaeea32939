import type { BudgetLimits } from '../defaults.ts';
import type { EventKind, Registry } from './registry.ts';

/**
 * The budgets that bound the custodian as a one-bit oracle, counted in its own durable registry
 * (NIST SP 800-63B-4 3.2.3 limits consecutive failures; these bound *all* judgements, failed or
 * not, because a compromised web tier does not need failures to learn a template):
 * - per subject, judge tickets per hour and per day: sized to real use (a person signs in a few
 *   times a day). With per-subject keys this is the only oracle on a template, so extracting one
 *   takes (queries needed) / (per-day budget) days: see README, "Threat model";
 * - overall, tickets (and decoy tickets) per minute: near real peak traffic;
 * - registrations (new key pairs) per hour and per day overall, and per subject per day;
 * - forgets per hour (a compromised web tier must not shred every key at once).
 * Alerts (audited and counted in metrics): a subject's budget exhausted, a burst of tickets for
 * one subject, a global cap reached. Each alert is raised once per window, not once per request.
 */
export type { BudgetLimits } from '../defaults.ts';

export type Scope = 'subject' | 'global' | 'registrations' | 'forgets';
export type Alert = 'subject_budget_exhausted' | 'subject_burst' | 'global_cap_reached' | 'registration_cap_reached' | 'forget_cap_reached' | 'template_mismatch';

export type Decision = { ok: true; alerts: Alert[] } | { ok: false; scope: Scope; retryAfterMs: number; alerts: Alert[] };

export interface Budget {
  ticket(subject: string, now: number): Decision;
  decoy(now: number): Decision;
  registration(subject: string, now: number): Decision;
  forget(now: number): Decision;
  /** Records an alert unless the same one was raised within `windowMs`; returns whether it is new. */
  alert(alert: Alert, subject: string | null, now: number, windowMs?: number): boolean;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

interface Window {
  kind: EventKind;
  subject: string | null;
  limit: number;
  windowMs: number;
  scope: Scope;
}

export function createBudget(registry: Registry, limits: BudgetLimits): Budget {
  /** 0 if every window has room, else how long until the first one does. */
  function wait(windows: Window[], now: number): { scope: Scope; retryAfterMs: number } | undefined {
    for (const w of windows) {
      const times = registry.recent(w.kind, w.subject, now - w.windowMs, w.limit);
      if (times.length >= w.limit) return { scope: w.scope, retryAfterMs: Math.max(1000, times[w.limit - 1]! + w.windowMs - now) };
    }
    return undefined;
  }

  function alert(kind: Alert, subject: string | null, now: number, windowMs = HOUR): boolean {
    const key = subject === null ? kind : `${kind}:${subject}`;
    if (registry.count('alert', key, now - windowMs) > 0) return false;
    registry.record('alert', key, now);
    return true;
  }

  const capAlert: Record<Scope, Alert> = {
    subject: 'subject_budget_exhausted',
    global: 'global_cap_reached',
    registrations: 'registration_cap_reached',
    forgets: 'forget_cap_reached',
  };

  function take(kind: EventKind, subject: string | null, windows: Window[], now: number): Decision {
    const blocked = wait(windows, now);
    if (blocked) {
      const alerts = alert(capAlert[blocked.scope], blocked.scope === 'subject' ? subject : null, now) ? [capAlert[blocked.scope]] : [];
      return { ok: false, ...blocked, alerts };
    }
    registry.record(kind, subject, now);
    return { ok: true, alerts: [] };
  }

  /** The global cap counts real and decoy tickets together: unknown usernames cost the same. */
  function globalFull(now: number): Decision | undefined {
    const all = registry.count('ticket', null, now - MINUTE) + registry.count('decoy', null, now - MINUTE);
    if (all < limits.globalPerMinute) return undefined;
    const alerts: Alert[] = alert('global_cap_reached', null, now, MINUTE) ? ['global_cap_reached'] : [];
    return { ok: false, scope: 'global', retryAfterMs: 5000, alerts };
  }

  return {
    ticket(subject, now) {
      const full = globalFull(now);
      if (full) return full;
      const decision = take('ticket', subject, [
        { kind: 'ticket', subject, limit: limits.subjectPerHour, windowMs: HOUR, scope: 'subject' },
        { kind: 'ticket', subject, limit: limits.subjectPerDay, windowMs: DAY, scope: 'subject' },
      ], now);
      if (decision.ok && registry.count('ticket', subject, now - limits.burstWindowMs) >= limits.burstCount && alert('subject_burst', subject, now, limits.burstWindowMs)) {
        decision.alerts.push('subject_burst');
      }
      return decision;
    },
    decoy(now) {
      const full = globalFull(now);
      if (full) return full;
      registry.record('decoy', null, now);
      return { ok: true, alerts: [] };
    },
    registration(subject, now) {
      return take('register', subject, [
        { kind: 'register', subject, limit: limits.subjectRegistrationsPerDay, windowMs: DAY, scope: 'registrations' },
        { kind: 'register', subject: null, limit: limits.registrationsPerHour, windowMs: HOUR, scope: 'registrations' },
        { kind: 'register', subject: null, limit: limits.registrationsPerDay, windowMs: DAY, scope: 'registrations' },
      ], now);
    },
    forget(now) {
      return take('forget', null, [{ kind: 'forget', subject: null, limit: limits.forgetsPerHour, windowMs: HOUR, scope: 'forgets' }], now);
    },
    alert,
  };
}
