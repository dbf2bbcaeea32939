import { z } from 'zod';
import { AppError } from '../../shared/index.ts';
import { DEFAULT_HE_PARAMS, HE_PARAM_SETS } from '../../he/index.ts';
import { DEFAULT_BUDGET } from '../defaults.ts';
import type { BudgetLimits } from './budget.ts';

/**
 * The custodian's configuration: the only reader of its environment (it is its own process and
 * shares no configuration with the IdP but the socket address and the shared secret).
 */
export interface CustodianConfig {
  readonly keyDir: string;
  readonly socketPath: string | undefined;
  readonly listen: { host: string; port: number } | undefined;
  readonly sharedSecret: Buffer;
  /** 32 bytes, or undefined in demo mode (then generated into the key directory). */
  readonly sealingKey: Buffer | undefined;
  readonly demo: boolean;
  readonly paramsVersion: string;
  readonly ticketTtlMs: number;
  readonly budget: BudgetLimits;
  /** Loopback host:port for the custodian's own /metrics, or undefined (off). */
  readonly metricsListen: { host: string; port: number } | undefined;
  readonly maxFrameBytes: number;
  readonly clockSkewMs: number;
  readonly logLevel: string;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

const EnvSchema = z
  .object({
    CUSTODIAN_KEY_DIR: z.string().min(1),
    CUSTODIAN_SOCKET: z.string().min(1).max(100).optional(),
    CUSTODIAN_LISTEN: z
      .string()
      .regex(/^(\[::1\]|[\w.-]+):\d{1,5}$/, 'must be host:port')
      .refine((value) => LOOPBACK.has(value.slice(0, value.lastIndexOf(':')).replace(/^\[|\]$/g, '')), 'must be a loopback address')
      .optional(),
    CUSTODIAN_SHARED_SECRET: z.string().refine((value) => Buffer.byteLength(value, 'utf8') >= 32, 'must be at least 32 bytes'),
    CUSTODIAN_SEALING_KEY: z
      .string()
      .refine((value) => /^[A-Za-z0-9+/]+={0,2}$/.test(value) && Buffer.from(value, 'base64').length === 32, 'must be 32 bytes, base64-encoded')
      .optional(),
    CUSTODIAN_DEMO: z.enum(['0', '1', 'true', 'false']).default('0'),
    CUSTODIAN_PARAMS: z.string().refine((value) => Object.hasOwn(HE_PARAM_SETS, value), 'unknown HE parameter set').default(DEFAULT_HE_PARAMS.version),
    CUSTODIAN_TICKET_TTL_MS: int(1000, 600_000, 60_000),
    // Defaults sized to real use (README, "Threat model": what they mean for an attacker).
    CUSTODIAN_BUDGET_SUBJECT_PER_HOUR: int(1, 100_000, DEFAULT_BUDGET.subjectPerHour),
    CUSTODIAN_BUDGET_SUBJECT_PER_DAY: int(1, 1_000_000, DEFAULT_BUDGET.subjectPerDay),
    CUSTODIAN_RATE_GLOBAL_PER_MINUTE: int(1, 1_000_000, DEFAULT_BUDGET.globalPerMinute),
    CUSTODIAN_REGISTRATIONS_PER_HOUR: int(1, 1_000_000, DEFAULT_BUDGET.registrationsPerHour),
    CUSTODIAN_REGISTRATIONS_PER_DAY: int(1, 10_000_000, DEFAULT_BUDGET.registrationsPerDay),
    CUSTODIAN_SUBJECT_REGISTRATIONS_PER_DAY: int(1, 1000, DEFAULT_BUDGET.subjectRegistrationsPerDay),
    CUSTODIAN_FORGETS_PER_HOUR: int(1, 1_000_000, DEFAULT_BUDGET.forgetsPerHour),
    CUSTODIAN_BURST_ALERT_COUNT: int(2, 100_000, DEFAULT_BUDGET.burstCount),
    CUSTODIAN_BURST_ALERT_WINDOW_MS: int(1000, 86_400_000, DEFAULT_BUDGET.burstWindowMs),
    CUSTODIAN_METRICS_LISTEN: z
      .string()
      .regex(/^(\[::1\]|[\w.-]+):\d{1,5}$/, 'must be host:port')
      .refine((value) => LOOPBACK.has(value.slice(0, value.lastIndexOf(':')).replace(/^\[|\]$/g, '')), 'must be a loopback address')
      .optional(),
    CUSTODIAN_MAX_FRAME_BYTES: int(48 * 1024, 1024 * 1024, 64 * 1024),
    CUSTODIAN_CLOCK_SKEW_MS: int(1000, 300_000, 30_000),
    CUSTODIAN_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .refine((env) => (env.CUSTODIAN_SOCKET === undefined) !== (env.CUSTODIAN_LISTEN === undefined), {
    message: 'set exactly one of CUSTODIAN_SOCKET and CUSTODIAN_LISTEN',
  });

export function loadCustodianConfig(env: NodeJS.ProcessEnv = process.env): CustodianConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    // Names and reasons only: values may be secrets.
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`).join('; ');
    throw new AppError('custodian_config_invalid', `Invalid custodian configuration: ${problems}`);
  }
  const e = parsed.data;
  const demo = e.CUSTODIAN_DEMO === '1' || e.CUSTODIAN_DEMO === 'true';
  if (!e.CUSTODIAN_SEALING_KEY && !demo) {
    throw new AppError('custodian_config_invalid', 'CUSTODIAN_SEALING_KEY is required (or CUSTODIAN_DEMO=1 for a throw-away demo key).');
  }
  const hostPort = (name: string, value: string | undefined) => {
    if (!value) return undefined;
    const at = value.lastIndexOf(':');
    const port = Number(value.slice(at + 1));
    if (port > 65535) throw new AppError('custodian_config_invalid', `Invalid custodian configuration: ${name}: bad port`);
    return { host: value.slice(0, at).replace(/^\[|\]$/g, ''), port };
  };
  const listen = hostPort('CUSTODIAN_LISTEN', e.CUSTODIAN_LISTEN);
  return Object.freeze({
    keyDir: e.CUSTODIAN_KEY_DIR,
    socketPath: e.CUSTODIAN_SOCKET,
    listen,
    sharedSecret: Buffer.from(e.CUSTODIAN_SHARED_SECRET, 'utf8'),
    sealingKey: e.CUSTODIAN_SEALING_KEY ? Buffer.from(e.CUSTODIAN_SEALING_KEY, 'base64') : undefined,
    demo,
    paramsVersion: e.CUSTODIAN_PARAMS,
    ticketTtlMs: e.CUSTODIAN_TICKET_TTL_MS,
    budget: Object.freeze({
      subjectPerHour: e.CUSTODIAN_BUDGET_SUBJECT_PER_HOUR,
      subjectPerDay: e.CUSTODIAN_BUDGET_SUBJECT_PER_DAY,
      globalPerMinute: e.CUSTODIAN_RATE_GLOBAL_PER_MINUTE,
      registrationsPerHour: e.CUSTODIAN_REGISTRATIONS_PER_HOUR,
      registrationsPerDay: e.CUSTODIAN_REGISTRATIONS_PER_DAY,
      subjectRegistrationsPerDay: e.CUSTODIAN_SUBJECT_REGISTRATIONS_PER_DAY,
      forgetsPerHour: e.CUSTODIAN_FORGETS_PER_HOUR,
      burstCount: e.CUSTODIAN_BURST_ALERT_COUNT,
      burstWindowMs: e.CUSTODIAN_BURST_ALERT_WINDOW_MS,
    }),
    metricsListen: hostPort('CUSTODIAN_METRICS_LISTEN', e.CUSTODIAN_METRICS_LISTEN),
    maxFrameBytes: e.CUSTODIAN_MAX_FRAME_BYTES,
    clockSkewMs: e.CUSTODIAN_CLOCK_SKEW_MS,
    logLevel: e.CUSTODIAN_LOG_LEVEL,
  });
}
