import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'faceid-config-'));

describe('configuration', () => {
  it('demo mode generates secrets once, into a 0600 file, and reuses them', () => {
    const dataDir = dir();
    const first = loadConfig({ DATA_DIR: dataDir });
    const second = loadConfig({ DATA_DIR: dataDir });
    expect(first.mode).toBe('demo');
    expect(first.sealingKey.equals(second.sealingKey)).toBe(true);
    expect(first.cookieKeys).toEqual(second.cookieKeys);
    expect(statSync(join(dataDir, 'secrets', 'demo-secrets.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'secrets')).mode & 0o777).toBe(0o700);
  });

  it('production mode refuses to start without its secrets and names them', () => {
    expect(() => loadConfig({ FACEID_MODE: 'production', DATA_DIR: dir() })).toThrow(/COOKIE_KEYS, SEALING_KEY, CUSTODIAN_SHARED_SECRET/);
  });

  it('production mode requires an https issuer', () => {
    const env = {
      NODE_ENV: 'production',
      DATA_DIR: dir(),
      COOKIE_KEYS: 'k'.repeat(40),
      SEALING_KEY: Buffer.alloc(32, 1).toString('base64'),
      CUSTODIAN_SHARED_SECRET: 's'.repeat(40),
      CUSTODIAN_SOCKET: '/run/custodian.sock',
      DATABASE_URL: 'postgres://x@y/z',
      ISSUER: 'http://id.example.com',
    };
    expect(() => loadConfig(env)).toThrow(/https/);
    expect(loadConfig({ ...env, ISSUER: 'https://id.example.com' }).mode).toBe('production');
  });

  it('rejects malformed values with the variable name', () => {
    expect(() => loadConfig({ DATA_DIR: dir(), PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ DATA_DIR: dir(), SEALING_KEY: 'short' })).toThrow(/SEALING_KEY/);
    expect(() => loadConfig({ DATA_DIR: dir(), COOKIE_KEYS: 'short' })).toThrow(/COOKIE_KEYS/);
  });

  it('OUTBOUND_PRIVATE_ORIGINS takes origins only, normalised', () => {
    const dataDir = dir();
    expect(loadConfig({ DATA_DIR: dataDir }).outboundPrivateOrigins).toEqual([]);
    expect(loadConfig({ DATA_DIR: dataDir, OUTBOUND_PRIVATE_ORIGINS: ' http://10.0.0.5:8080 , https://RP.internal/ ' }).outboundPrivateOrigins).toEqual(['http://10.0.0.5:8080', 'https://rp.internal']);
    for (const bad of ['http://rp.internal/logout', 'ftp://rp.internal', 'rp.internal']) {
      expect(() => loadConfig({ DATA_DIR: dataDir, OUTBOUND_PRIVATE_ORIGINS: bad }), bad).toThrow(/OUTBOUND_PRIVATE_ORIGINS/);
    }
  });

  it('is frozen', () => {
    const config = loadConfig({ DATA_DIR: dir() });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.custodian)).toBe(true);
  });
});
