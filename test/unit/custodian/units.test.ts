import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../../src/custodian/internal/audit.ts';
import { loadCustodianConfig } from '../../../src/custodian/internal/config.ts';
import { createRateLimiter } from '../../../src/custodian/internal/rateLimit.ts';
import { createTicketStore, TicketError } from '../../../src/custodian/internal/tickets.ts';
import { FrameReader, KIND_REQUEST, decodeFrame, encodeFrame, newNonce } from '../../../src/custodian/protocol.ts';

const fakeClock = (start = 1_700_000_000_000) => {
  let now = start;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
};

const reasonOf = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(TicketError);
    expect((error as TicketError).code).toBe('custodian_ticket_invalid');
    return (error as TicketError).reason;
  }
};

describe('tickets', () => {
  it('are single-use, bound to subject and version, and expire', () => {
    const clock = fakeClock();
    const store = createTicketStore({ clock, ttlMs: 60_000 });
    const { ticket, expiresAt } = store.issue('subject-a', 'bgv-2048-v1');
    expect(ticket).toMatch(/^[\w-]{43}$/);
    expect(expiresAt).toBe(clock.now() + 60_000);
    expect(store.redeem(ticket)).toEqual({ subject: 'subject-a', paramsVersion: 'bgv-2048-v1' });
    expect(reasonOf(() => store.redeem(ticket))).toBe('reused');
    expect(reasonOf(() => store.redeem('x'.repeat(43)))).toBe('unknown');

    const late = store.issue('subject-a', 'bgv-2048-v1');
    clock.advance(59_999);
    const stillValid = store.issue('subject-b', 'bgv-2048-v1');
    clock.advance(1);
    expect(reasonOf(() => store.redeem(late.ticket))).toBe('expired');
    expect(reasonOf(() => store.redeem(late.ticket))).toBe('unknown');
    expect(store.redeem(stillValid.ticket).subject).toBe('subject-b');
  });

  it('bound the number outstanding (memory) and sweep expired ones', () => {
    const clock = fakeClock();
    const store = createTicketStore({ clock, ttlMs: 1000, maxOutstanding: 3 });
    for (let i = 0; i < 3; i += 1) store.issue(`s${i}`, 'v');
    expect(() => store.issue('s4', 'v')).toThrow(expect.objectContaining({ code: 'custodian_rate_limited' }));
    clock.advance(1000);
    expect(store.issue('s4', 'v').ticket).toBeTruthy();
    expect(store.size).toBe(1);
  });
});

describe('rate limiter', () => {
  it('applies sliding windows per subject and overall', () => {
    const clock = fakeClock();
    const limiter = createRateLimiter({
      clock,
      perSubject: [{ limit: 3, windowMs: 60_000 }, { limit: 5, windowMs: 3_600_000 }],
      global: [{ limit: 8, windowMs: 60_000 }],
    });
    for (let i = 0; i < 3; i += 1) expect(limiter.take('a').ok).toBe(true);
    const refused = limiter.take('a');
    expect(refused).toEqual({ ok: false, scope: 'subject', retryAfterMs: 60_000 });
    clock.advance(30_000);
    expect(limiter.take('a').ok).toBe(false); // still 3 within the last minute
    clock.advance(30_001);
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a').ok).toBe(true); // 5 this hour
    clock.advance(61_000);
    expect(limiter.take('a')).toMatchObject({ ok: false, scope: 'subject' }); // hourly limit
    for (let i = 0; i < 3; i += 1) expect(limiter.take(`b${i}`).ok).toBe(true);
    expect(limiter.take('c').ok).toBe(true);
    expect(limiter.take('d').ok).toBe(true);
    expect(limiter.take('e').ok).toBe(true);
    expect(limiter.take('f').ok).toBe(true);
    expect(limiter.take('g').ok).toBe(true);
    expect(limiter.take('h')).toMatchObject({ ok: false, scope: 'global' }); // 8 in the last minute
  });
});

describe('config', () => {
  const base = {
    CUSTODIAN_KEY_DIR: '/tmp/keys',
    CUSTODIAN_SOCKET: '/tmp/keys/c.sock',
    CUSTODIAN_SHARED_SECRET: 's'.repeat(32),
    CUSTODIAN_SEALING_KEY: Buffer.alloc(32, 1).toString('base64'),
  };

  it('validates the environment and applies defaults', () => {
    const config = loadCustodianConfig(base);
    expect(config.paramsVersion).toBe('bgv-2048-v1');
    expect(config.ticketTtlMs).toBe(60_000);
    expect(config.rateLimits).toEqual({ subjectPerMinute: 10, subjectPerHour: 60, globalPerMinute: 600 });
    expect(config.sealingKey?.length).toBe(32);
    expect(loadCustodianConfig({ ...base, CUSTODIAN_SOCKET: undefined, CUSTODIAN_LISTEN: '127.0.0.1:7001' }).listen).toEqual({ host: '127.0.0.1', port: 7001 });
  });

  it('refuses unsafe or incomplete settings without echoing secrets', () => {
    const bad: Record<string, string | undefined>[] = [
      { ...base, CUSTODIAN_SHARED_SECRET: 'short-secret' },
      { ...base, CUSTODIAN_SEALING_KEY: undefined },
      { ...base, CUSTODIAN_SEALING_KEY: Buffer.alloc(16).toString('base64') },
      { ...base, CUSTODIAN_SOCKET: undefined },
      { ...base, CUSTODIAN_LISTEN: '127.0.0.1:7001' },
      { ...base, CUSTODIAN_SOCKET: undefined, CUSTODIAN_LISTEN: '0.0.0.0:7001' },
      { ...base, CUSTODIAN_PARAMS: 'bgv-1-v9' },
      { ...base, CUSTODIAN_RATE_SUBJECT_PER_MINUTE: '0' },
    ];
    for (const env of bad) {
      expect(() => loadCustodianConfig(env)).toThrow(expect.objectContaining({ code: 'custodian_config_invalid' }));
      try {
        loadCustodianConfig(env);
      } catch (error) {
        expect((error as Error).message).not.toContain('short-secret');
      }
    }
    expect(loadCustodianConfig({ ...base, CUSTODIAN_SEALING_KEY: undefined, CUSTODIAN_DEMO: '1' }).demo).toBe(true);
  });
});

describe('audit log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'faceid-audit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('appends JSON lines, mode 0600, with a keyed subject reference only', () => {
    const path = join(dir, 'audit.log');
    const clock = fakeClock();
    const log = createAuditLog({ path, subjectKey: Buffer.alloc(32, 2), clock });
    log.record({ op: 'ticket', subject: 'pseudonym-1', outcome: 'issued' });
    log.record({ op: 'judge', subject: 'pseudonym-1', outcome: 'no_match' });
    log.close();
    const again = createAuditLog({ path, subjectKey: Buffer.alloc(32, 2), clock });
    again.record({ op: 'judge', outcome: 'refused:ticket_reused' });
    again.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('pseudonym-1');
    const lines = text.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((line) => line.outcome)).toEqual(['issued', 'no_match', 'refused:ticket_reused']);
    expect(lines[0].subjectRef).toBe(lines[1].subjectRef);
    expect(Object.keys(lines[0]).sort()).toEqual(['op', 'outcome', 'subjectRef', 'time']);
  });
});

describe('protocol frames', () => {
  const secret = Buffer.alloc(32, 9);

  it('authenticate every byte and cap the length before buffering', () => {
    const frame = encodeFrame({ kind: KIND_REQUEST, nonce: newNonce(), time: 1, header: { op: 'health' }, payload: Buffer.from([1, 2, 3]) }, secret);
    const reader = new FrameReader(1024);
    const bodies = [...(reader.push(frame.subarray(0, 7)) as Buffer[]), ...(reader.push(frame.subarray(7)) as Buffer[])];
    expect(bodies).toHaveLength(1);
    const decoded = decodeFrame(bodies[0]!, secret);
    expect(decoded).toMatchObject({ kind: KIND_REQUEST, time: 1, header: { op: 'health' } });
    for (let i = 0; i < bodies[0]!.length; i += 1) {
      const tampered = Buffer.from(bodies[0]!);
      tampered[i]! ^= 1;
      expect(decodeFrame(tampered, secret)).toBe('frame_unauthenticated');
    }
    expect(decodeFrame(bodies[0]!, Buffer.alloc(32, 8))).toBe('frame_unauthenticated');
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(1025);
    expect(new FrameReader(1024).push(huge)).toBe('frame_too_large');
  });
});
