/** What the custodian's budgets limit (enforced in internal/budget.ts). */
export interface BudgetLimits {
  readonly subjectPerHour: number;
  readonly subjectPerDay: number;
  readonly globalPerMinute: number;
  readonly registrationsPerHour: number;
  readonly registrationsPerDay: number;
  readonly subjectRegistrationsPerDay: number;
  readonly forgetsPerHour: number;
  /** Tickets for one subject within `burstWindowMs` that raise a burst alert. */
  readonly burstCount: number;
  readonly burstWindowMs: number;
}

/**
 * The custodian's default budgets (README, "Threat model" and "Configuration"): sized to real
 * use. Public, so that benchmarks and the README's figures read the same numbers the custodian
 * enforces; the custodian's configuration (internal/config.ts) starts from these.
 */
export const DEFAULT_BUDGET: BudgetLimits = Object.freeze({
  subjectPerHour: 8,
  subjectPerDay: 20,
  globalPerMinute: 300,
  registrationsPerHour: 60,
  registrationsPerDay: 500,
  subjectRegistrationsPerDay: 4,
  forgetsPerHour: 60,
  burstCount: 6,
  burstWindowMs: 10 * 60_000,
});
