import type { Clock } from '../../shared/index.ts';

/**
 * Sliding-window-log rate limits on judge tickets, per subject and overall: the custodian is a
 * one-bit oracle, and these limits (with single-use tickets) are what bound its use by a
 * compromised IdP (NIST SP 800-63B, section 5.2.2: limit failed authentication attempts).
 */
export interface RateWindow {
  limit: number;
  windowMs: number;
}

export type RateDecision = { ok: true } | { ok: false; scope: 'subject' | 'global'; retryAfterMs: number };

export interface RateLimiter {
  /** Counts one event for `subject` if every window allows it. */
  take(subject: string): RateDecision;
}

export interface RateLimiterOptions {
  clock: Clock;
  perSubject: RateWindow[];
  global: RateWindow[];
  /** Tracked subjects before the limiter fails closed (memory bound). */
  maxSubjects?: number;
}

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const subjects = new Map<string, number[]>();
  const all: number[] = [];
  const longestSubject = Math.max(...options.perSubject.map((w) => w.windowMs));
  const longestGlobal = Math.max(...options.global.map((w) => w.windowMs));
  const keepSubject = Math.max(...options.perSubject.map((w) => w.limit));
  const keepGlobal = Math.max(...options.global.map((w) => w.limit));
  const maxSubjects = options.maxSubjects ?? 100_000;

  // Timestamps are kept newest last and at most `limit` of them per window matter.
  function blocked(log: number[], windows: RateWindow[], now: number): number {
    let retryAfter = 0;
    for (const { limit, windowMs } of windows) {
      const inWindow = log.filter((at) => at > now - windowMs);
      if (inWindow.length >= limit) retryAfter = Math.max(retryAfter, inWindow[inWindow.length - limit]! + windowMs - now);
    }
    return retryAfter;
  }

  function sweep(now: number): void {
    for (const [subject, log] of subjects) if (log[log.length - 1]! <= now - longestSubject) subjects.delete(subject);
  }

  return {
    take(subject) {
      const now = options.clock.now();
      while (all.length > 0 && (all[0]! <= now - longestGlobal || all.length > keepGlobal)) all.shift();
      const globalWait = blocked(all, options.global, now);
      if (globalWait > 0) return { ok: false, scope: 'global', retryAfterMs: globalWait };
      let log = subjects.get(subject);
      if (!log) {
        if (subjects.size >= maxSubjects) sweep(now);
        if (subjects.size >= maxSubjects) return { ok: false, scope: 'global', retryAfterMs: 1000 };
        log = [];
        subjects.set(subject, log);
      }
      while (log.length > 0 && (log[0]! <= now - longestSubject || log.length > keepSubject)) log.shift();
      const subjectWait = blocked(log, options.perSubject, now);
      if (subjectWait > 0) return { ok: false, scope: 'subject', retryAfterMs: subjectWait };
      log.push(now);
      all.push(now);
      return { ok: true };
    },
  };
}
