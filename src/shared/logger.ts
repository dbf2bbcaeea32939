import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Keys whose values are never written to a log, at any depth: biometric data (images, frames,
 * descriptors, templates, ciphertexts), secrets (keys, TOTP secrets, recovery codes, passwords)
 * and credentials (tokens, codes, cookies). Matching is by key name, case-insensitive, so a new
 * field called e.g. `probeDescriptor` or `refresh_token` is covered without touching this list.
 */
const SENSITIVE_KEY =
  /(image|frame|photo|descriptor|probe|template|ciphertext|blinded|plaintext|secret|password|passphrase|private|sealing|^key$|keys$|jwks|totp|otp|recovery|token|^code$|code_verifier|cookie|authorization|session|ticket|nonce)/i;

const REDACTED = '[redacted]';
const MAX_DEPTH = 6;

/** Returns a copy of `value` with sensitive fields replaced and binary data reduced to its length. */
export function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    return `[binary ${value.byteLength} bytes]`;
  }
  if (value instanceof Error) {
    return { type: value.name, message: value.message, errorCode: (value as { code?: unknown }).code };
  }
  if (depth >= MAX_DEPTH) return '[depth]';
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SENSITIVE_KEY.test(key) ? REDACTED : redact(item, depth + 1);
  }
  return out;
}

export interface LoggerOptions {
  level?: string;
  name?: string;
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      name: options.name ?? 'faceid-fhe',
      base: { pid: process.pid },
      formatters: {
        // Every structured field goes through `redact`, whatever the call site passed.
        log: (object) => redact(object) as Record<string, unknown>,
      },
      serializers: {
        err: (err: unknown) => {
          if (!(err instanceof Error)) return redact(err);
          const code = (err as { code?: unknown }).code;
          return { type: err.name, message: err.message, errorCode: code, stack: err.stack };
        },
      },
    },
    options.destination,
  );
}

/** A logger that writes nothing: for unit tests and library defaults. */
export const silentLogger: Logger = pino({ level: 'silent' });
