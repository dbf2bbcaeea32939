import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redact } from '../../../src/shared/index.ts';

describe('logger redaction', () => {
  it('removes biometric data, secrets and tokens at any depth', () => {
    const out = redact({
      user: 'alice',
      descriptor: [0.1, 0.2],
      nested: { probeDescriptor: 'x', refresh_token: 'rt', TOTPSecret: 'JBSW', ok: 1, deeper: { frames: ['a'], cookie: 'c' } },
      code: 'authcode',
      image: Buffer.from('jpeg'),
      raw: new Uint8Array(10),
    }) as Record<string, unknown>;
    expect(out).toEqual({
      user: 'alice',
      descriptor: '[redacted]',
      nested: { probeDescriptor: '[redacted]', refresh_token: '[redacted]', TOTPSecret: '[redacted]', ok: 1, deeper: { frames: '[redacted]', cookie: '[redacted]' } },
      code: '[redacted]',
      image: '[redacted]',
      raw: '[binary 10 bytes]',
    });
  });

  it('applies to every line the logger writes, and keeps error codes', () => {
    const lines: string[] = [];
    const destination = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const logger = createLogger({ destination });
    const err = Object.assign(new Error('boom'), { code: 'no_face' });
    logger.info({ template: new Uint8Array(4), password: 'hunter2', client: { secret: 's' }, err }, 'event');
    const text = lines.join('');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('"s"');
    expect(text).toContain('no_face');
    expect(text).toContain('[redacted]');
  });
});
