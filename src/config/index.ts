import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { AppError } from '../shared/index.ts';

/**
 * The only reader of process.env for the IdP process. Every setting is documented in README.md
 * ("Configuration"). In production mode the process refuses to start without its secrets; in demo
 * mode they are generated once into the data directory (mode 0600) and a warning is logged.
 */

const base64Key = z
  .string()
  .refine((value) => Buffer.from(value, 'base64').length === 32, 'must be 32 bytes, base64-encoded');

const boolish = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no'])
  .transform((value) => value === '1' || value === 'true' || value === 'yes');

const EnvSchema = z.object({
  NODE_ENV: z.string().optional(),
  FACEID_MODE: z.enum(['demo', 'production']).optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  ISSUER: z.url().optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().min(1).optional(),
  COOKIE_KEYS: z.string().optional(),
  SEALING_KEY: base64Key.optional(),
  CUSTODIAN_SOCKET: z.string().min(1).optional(),
  CUSTODIAN_LISTEN: z.string().regex(/^[\w.-]+:\d+$/, 'host:port').optional(),
  CUSTODIAN_SHARED_SECRET: z.string().min(32).optional(),
  CUSTODIAN_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(3000),
  FACE_WORKERS: z.coerce.number().int().min(1).max(64).optional(),
  FACE_MATCH_THRESHOLD: z.coerce.number().positive().max(4).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUST_PROXY: boolish.default(false),
  PROXY_HOPS: z.coerce.number().int().min(1).max(10).default(1),
  SAMPLE_RP_URL: z.url().optional(),
  SAMPLE_RP_CLIENT_SECRET: z.string().min(32).optional(),
  ADMIN_USER: z.string().min(1).optional(),
  ADMIN_PASSWORD: z.string().min(12).optional(),
  METRICS_TOKEN: z.string().min(16).optional(),
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(60_000),
  PASSKEY_RP_ID: z.string().regex(/^(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9.-]+$/i, 'a domain name (WebAuthn does not allow IP addresses)').optional(),
  PASSKEY_ORIGINS: z.string().optional(),
  PASSKEY_ONLY_ACR: boolish.default(false),
  // Presentation-attack detection on every camera step of the pages (sign-in, step-up, sign-up,
  // re-enrollment). Off only for trusted cameras (kiosks) or integrations that post single frames.
  LIVENESS: z.enum(['on', 'off']).default('on'),
  OUTBOUND_PRIVATE_ORIGINS: z.string().optional(),
});

export interface Config {
  readonly mode: 'demo' | 'production';
  readonly port: number;
  readonly host: string;
  readonly issuer: string;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly cookieKeys: readonly string[];
  readonly sealingKey: Buffer;
  readonly custodian: {
    readonly socketPath: string | undefined;
    readonly host: string | undefined;
    readonly port: number | undefined;
    readonly sharedSecret: string;
    readonly timeoutMs: number;
  };
  readonly face: { readonly workers: number | undefined; readonly matchThreshold: number | undefined };
  readonly logLevel: string;
  readonly trustProxy: boolean;
  /** Trusted proxies in front of the IdP: the client address is read this many entries from the right of X-Forwarded-For. */
  readonly proxyHops: number;
  readonly sampleRp: { readonly url: string; readonly clientSecret: string } | undefined;
  readonly admin: { readonly user: string; readonly password: string } | undefined;
  /** Bearer token for GET /metrics; without it, only loopback clients may read metrics. */
  readonly metricsToken: string | undefined;
  /** A request (headers and body) must arrive within this, else 408 and the connection is closed. */
  readonly requestTimeoutMs: number;
  /** WebAuthn: the RP ID (the issuer's host name by default), the accepted origins, and whether a passkey alone may sign in. */
  readonly passkeys: { readonly rpId: string; readonly origins: readonly string[]; readonly passkeyOnly: boolean };
  readonly liveness: { readonly enabled: boolean };
  /**
   * Relying-party origins the IdP may call although they resolve to loopback or private addresses
   * (back-channel logout to an RP on the same host or network); every other such call is refused.
   */
  readonly outboundPrivateOrigins: readonly string[];
}

/**
 * The IdP's own demo secrets. Nothing of the custodian's is here (its sealing key and key store
 * live in its own directory, which the IdP never reads): a copy of DATA_DIR decrypts nothing.
 * The shared secret only authenticates the channel to the custodian.
 */
export interface DemoSecrets {
  cookieKeys: string[];
  sealingKey: string;
  custodianSharedSecret: string;
  sampleRpClientSecret: string;
}

/** Generates (once) and reads the demo-mode secrets file: DATA_DIR/secrets/demo-secrets.json, 0600. */
export function ensureDemoSecrets(dataDir: string): DemoSecrets {
  const dir = join(resolve(dataDir), 'secrets');
  const file = join(dir, 'demo-secrets.json');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  if (!existsSync(file)) {
    const secrets: DemoSecrets = {
      cookieKeys: [randomBytes(32).toString('base64url')],
      sealingKey: randomBytes(32).toString('base64'),
      custodianSharedSecret: randomBytes(32).toString('base64url'),
      sampleRpClientSecret: randomBytes(32).toString('base64url'),
    };
    writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  const stored = JSON.parse(readFileSync(file, 'utf8')) as DemoSecrets & { custodianSealingKey?: string };
  if (stored.custodianSealingKey !== undefined) {
    // Written by an earlier version, when the custodian's key sat here too: removed for good.
    delete stored.custodianSealingKey;
    writeFileSync(`${file}.tmp`, JSON.stringify(stored, null, 2), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }
  return stored;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new AppError('config_invalid', `Invalid configuration: ${detail}`);
  }
  const e = parsed.data;
  const mode = e.FACEID_MODE ?? (e.NODE_ENV === 'production' ? 'production' : 'demo');
  const dataDir = resolve(e.DATA_DIR);
  const demo = mode === 'demo' ? ensureDemoSecrets(dataDir) : undefined;

  const cookieKeys = e.COOKIE_KEYS?.split(',').map((key) => key.trim()).filter(Boolean) ?? demo?.cookieKeys;
  const sealingKey = e.SEALING_KEY ?? demo?.sealingKey;
  const sharedSecret = e.CUSTODIAN_SHARED_SECRET ?? demo?.custodianSharedSecret;
  const missing: string[] = [];
  if (!cookieKeys?.length) missing.push('COOKIE_KEYS');
  if (!sealingKey) missing.push('SEALING_KEY');
  if (!sharedSecret) missing.push('CUSTODIAN_SHARED_SECRET');
  if (!e.CUSTODIAN_SOCKET && !e.CUSTODIAN_LISTEN && mode === 'production') missing.push('CUSTODIAN_SOCKET or CUSTODIAN_LISTEN');
  if (!e.ISSUER && mode === 'production') missing.push('ISSUER');
  if (!e.DATABASE_URL && mode === 'production') missing.push('DATABASE_URL');
  if (missing.length > 0) {
    throw new AppError('config_missing', `Production mode refuses to start without: ${missing.join(', ')}.`);
  }
  if (cookieKeys!.some((key) => key.length < 32)) {
    throw new AppError('config_invalid', 'Each COOKIE_KEYS entry must be at least 32 characters.');
  }
  if (mode === 'production' && e.ISSUER && !e.ISSUER.startsWith('https://')) {
    throw new AppError('config_invalid', 'In production the ISSUER must be an https:// URL (OpenID Connect Discovery 1.0, section 3).');
  }
  if ((e.ADMIN_USER === undefined) !== (e.ADMIN_PASSWORD === undefined)) {
    throw new AppError('config_invalid', 'Set both ADMIN_USER and ADMIN_PASSWORD, or neither.');
  }

  const [custodianHost, custodianPort] = e.CUSTODIAN_LISTEN?.split(':') ?? [];
  // Demo default: a socket in DATA_DIR (an endpoint only; the custodian's state is elsewhere).
  const socketPath = e.CUSTODIAN_SOCKET ?? (e.CUSTODIAN_LISTEN ? undefined : join(dataDir, 'custodian.sock'));
  const sampleRpSecret = e.SAMPLE_RP_CLIENT_SECRET ?? demo?.sampleRpClientSecret;

  const issuer = (e.ISSUER ?? `http://localhost:${e.PORT}`).replace(/\/$/, '');
  const outboundPrivateOrigins = (e.OUTBOUND_PRIVATE_ORIGINS ?? '').split(',').map((entry) => entry.trim()).filter(Boolean).map((entry) => {
    const url = URL.parse(entry);
    const originOnly = url && url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password && !/[?#]/.test(entry);
    if (!url || !originOnly || !['http:', 'https:'].includes(url.protocol)) {
      throw new AppError('config_invalid', `OUTBOUND_PRIVATE_ORIGINS: "${entry}" is not an origin (scheme://host[:port], http or https).`);
    }
    return url.origin;
  });
  return Object.freeze({
    mode,
    port: e.PORT,
    host: e.HOST,
    issuer,
    dataDir,
    databaseUrl: e.DATABASE_URL,
    cookieKeys: Object.freeze([...cookieKeys!]),
    sealingKey: Buffer.from(sealingKey!, 'base64'),
    custodian: Object.freeze({
      socketPath,
      host: custodianHost,
      port: custodianPort === undefined ? undefined : Number(custodianPort),
      sharedSecret: sharedSecret!,
      timeoutMs: e.CUSTODIAN_TIMEOUT_MS,
    }),
    face: Object.freeze({ workers: e.FACE_WORKERS, matchThreshold: e.FACE_MATCH_THRESHOLD }),
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    proxyHops: e.PROXY_HOPS,
    sampleRp: e.SAMPLE_RP_URL && sampleRpSecret ? Object.freeze({ url: e.SAMPLE_RP_URL, clientSecret: sampleRpSecret }) : undefined,
    admin: e.ADMIN_USER && e.ADMIN_PASSWORD ? Object.freeze({ user: e.ADMIN_USER, password: e.ADMIN_PASSWORD }) : undefined,
    metricsToken: e.METRICS_TOKEN,
    requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
    liveness: Object.freeze({ enabled: e.LIVENESS === 'on' }),
    passkeys: Object.freeze({
      rpId: e.PASSKEY_RP_ID ?? new URL(issuer).hostname,
      origins: Object.freeze(e.PASSKEY_ORIGINS ? e.PASSKEY_ORIGINS.split(',').map((origin) => new URL(origin.trim()).origin) : [new URL(issuer).origin]),
      passkeyOnly: e.PASSKEY_ONLY_ACR,
    }),
    outboundPrivateOrigins: Object.freeze(outboundPrivateOrigins),
  });
}

export { deriveIdpKeys, type IdpKeys } from './keys.ts';

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    config_invalid: true;
    config_missing: true;
  }
}
