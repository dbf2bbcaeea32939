import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../../src/custodian/internal/audit.ts';
import { loadCustodianConfig } from '../../../src/custodian/internal/config.ts';
import { createBudget, type BudgetLimits } from '../../../src/custodian/internal/budget.ts';
import { openRegistry } from '../../../src/custodian/internal/registry.ts';
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

const claim = (subject: string | null, paramsVersion = 'bgv-2048-v1') => ({ subject, keyId: Buffer.alloc(16, 3), paramsVersion });

describe('tickets', () => {
  it('are single-use, bound to subject, key and version, and expire', () => {
    const clock = fakeClock();
    const store = createTicketStore({ clock, ttlMs: 60_000 });
    const { ticket, expiresAt } = store.issue(claim('subject-a'));
    expect(ticket).toMatch(/^[\w-]{43}$/);
    expect(expiresAt).toBe(clock.now() + 60_000);
    expect(store.redeem(ticket)).toEqual(claim('subject-a'));
    expect(reasonOf(() => store.redeem(ticket))).toBe('reused');
    expect(reasonOf(() => store.redeem('x'.repeat(43)))).toBe('unknown');

    const late = store.issue(claim('subject-a'));
    clock.advance(59_999);
    const stillValid = store.issue(claim('subject-b'));
    clock.advance(1);
    expect(reasonOf(() => store.redeem(late.ticket))).toBe('expired');
    expect(reasonOf(() => store.redeem(late.ticket))).toBe('unknown');
    expect(store.redeem(stillValid.ticket).subject).toBe('subject-b');
  });

  it('bound the number outstanding (memory) and sweep expired ones', () => {
    const clock = fakeClock();
    const store = createTicketStore({ clock, ttlMs: 1000, maxOutstanding: 3 });
    for (let i = 0; i < 3; i += 1) store.issue(claim(`s${i}`, 'v'));
    expect(() => store.issue(claim('s4', 'v'))).toThrow(expect.objectContaining({ code: 'custodian_rate_limited' }));
    clock.advance(1000);
    expect(store.issue(claim('s4', 'v')).ticket).toBeTruthy();
    expect(store.size).toBe(1);
  });
});

describe('budgets (durable, in the custodian registry)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'faceid-budget-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const limits: BudgetLimits = {
    subjectPerHour: 3,
    subjectPerDay: 5,
    globalPerMinute: 8,
    registrationsPerHour: 4,
    registrationsPerDay: 6,
    subjectRegistrationsPerDay: 2,
    forgetsPerHour: 2,
    burstCount: 3,
    burstWindowMs: 10 * 60_000,
  };
  const HOUR = 60 * 60_000;

  it('applies sliding windows per subject (hour and day) and overall, and alerts once per window', () => {
    const clock = fakeClock();
    const registry = openRegistry(dir);
    try {
      const budget = createBudget(registry, limits);
      expect(budget.ticket('a', clock.now())).toEqual({ ok: true, alerts: [] });
      expect(budget.ticket('a', clock.now()).ok).toBe(true);
      // The third within 10 minutes is a burst: allowed, and alerted once.
      expect(budget.ticket('a', clock.now())).toEqual({ ok: true, alerts: ['subject_burst'] });
      expect(budget.ticket('a', clock.now())).toEqual({ ok: false, scope: 'subject', retryAfterMs: HOUR, alerts: ['subject_budget_exhausted'] });
      expect(budget.ticket('a', clock.now())).toMatchObject({ ok: false, alerts: [] });
      clock.advance(HOUR + 1);
      expect(budget.ticket('a', clock.now()).ok).toBe(true);
      expect(budget.ticket('a', clock.now()).ok).toBe(true); // 5 today
      clock.advance(HOUR + 1);
      expect(budget.ticket('a', clock.now())).toMatchObject({ ok: false, scope: 'subject' }); // the daily budget
      clock.advance(22 * HOUR);
      expect(budget.ticket('a', clock.now()).ok).toBe(true); // the first three are a day old
      // Overall: 8 per minute, decoys included.
      for (let i = 0; i < 4; i += 1) expect(budget.ticket(`b${i}`, clock.now()).ok).toBe(true);
      for (let i = 0; i < 3; i += 1) expect(budget.decoy(clock.now()).ok).toBe(true);
      expect(budget.decoy(clock.now())).toMatchObject({ ok: false, scope: 'global', alerts: ['global_cap_reached'] });
      expect(budget.ticket('c', clock.now())).toMatchObject({ ok: false, scope: 'global' });
    } finally {
      registry.close();
    }
    // Durable: a new registry on the same directory sees the same counts.
    const again = openRegistry(dir);
    try {
      expect(createBudget(again, limits).ticket('c', clock.now())).toMatchObject({ ok: false, scope: 'global' });
    } finally {
      again.close();
    }
  });

  it('caps registrations overall and per subject, and forgets per hour', () => {
    const clock = fakeClock(1_800_000_000_000);
    const registry = openRegistry(mkdtempSync(join(dir, 'r-')));
    try {
      const budget = createBudget(registry, limits);
      expect(budget.registration('x', clock.now()).ok).toBe(true);
      expect(budget.registration('x', clock.now()).ok).toBe(true);
      expect(budget.registration('x', clock.now())).toMatchObject({ ok: false, scope: 'registrations', alerts: ['registration_cap_reached'] });
      expect(budget.registration('y', clock.now()).ok).toBe(true);
      expect(budget.registration('z', clock.now()).ok).toBe(true);
      // The overall cap (4 an hour); the alert was already raised this hour.
      expect(budget.registration('w', clock.now())).toMatchObject({ ok: false, scope: 'registrations', alerts: [] });
      expect(budget.forget(clock.now()).ok).toBe(true);
      expect(budget.forget(clock.now()).ok).toBe(true);
      expect(budget.forget(clock.now())).toMatchObject({ ok: false, scope: 'forgets' });
    } finally {
      registry.close();
    }
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
    expect(config.budget).toMatchObject({ subjectPerHour: 8, subjectPerDay: 20, globalPerMinute: 300, registrationsPerHour: 60, registrationsPerDay: 500 });
    expect(config.metricsListen).toBeUndefined();
    expect(loadCustodianConfig({ ...base, CUSTODIAN_METRICS_LISTEN: '127.0.0.1:9464' }).metricsListen).toEqual({ host: '127.0.0.1', port: 9464 });
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
      { ...base, CUSTODIAN_BUDGET_SUBJECT_PER_DAY: '0' },
      { ...base, CUSTODIAN_METRICS_LISTEN: '0.0.0.0:9464' },
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
