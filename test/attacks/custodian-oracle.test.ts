import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCustodian, type SpawnedCustodian } from '../../src/custodian/index.ts';
import { createKeySealer, generateKeyPair } from '../../src/custodian/internal/keys.ts';
import { createHeEngine, quantise, type HeEngine } from '../../src/he/index.ts';
import { createHeContext } from '../../src/he/keyside.ts';
import { enrollAt, judgeAt, newSubject, type Enrolled } from '../../support/custodian.ts';
import { errorCode } from '../../support/errors.ts';
import { randomDescriptor } from '../../support/he-keys.ts';
import { createOracleAttacker, type OracleAttacker } from '../../support/oracle.ts';

/**
 * Findings 2 and 5 of the 2026-12-01 review, performed against a real custodian process with its
 * production budgets (8 judgements per subject an hour, 20 a day), by a script that holds only
 * what a compromised web tier holds. Before the fix the same script read all 128 coefficients of a
 * template in 62 s (896 judge calls under fresh made-up subjects).
 */
const dir = mkdtempSync(join(tmpdir(), 'faceid-attack-oracle-'));
const sealingKey = randomBytes(32).toString('base64');
const options = {
  keyDir: join(dir, 'keys'),
  socketPath: join(dir, 'custodian.sock'),
  sharedSecret: randomBytes(32).toString('base64url'),
  sealingKey,
  metricsListen: '127.0.0.1:0',
  env: { CUSTODIAN_LOG_LEVEL: 'silent' },
};

let custodian: SpawnedCustodian;
let engine: HeEngine;
let attacker: OracleAttacker;
const victimFace = randomDescriptor(128, Math.random, 0.18, 1);
let victim: Enrolled;

beforeAll(async () => {
  custodian = await spawnCustodian(options);
  engine = await createHeEngine();
  victim = await enrollAt(custodian.client, engine, victimFace, newSubject('victim'));
  attacker = await createOracleAttacker(custodian.client);
});

afterAll(async () => {
  attacker?.close();
  engine?.close();
  await custodian?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const metric = async (name: string) => {
  const { host, port } = custodian.metricsAddress!;
  const text = await (await fetch(`http://${host}:${port}/metrics`)).text();
  return text.split('\n').find((line) => line.startsWith(name))?.split(' ').pop();
};

describe('finding 2: template extraction through the custodian by a compromised web tier', () => {
  it('under the victim\'s own subject the oracle answers (correctly) 8 times, then the subject budget stops it, with an alert', async () => {
    const truth = Array.from(quantise(victimFace));
    let answered = 0;
    let refusal = '';
    const read: number[] = [];
    try {
      for (let i = 0; i < 128; i += 1) {
        // The attacker's binary search, counting judge calls until one is refused.
        let lo = -128;
        let hi = 128;
        while (lo < hi) {
          const mid = Math.floor((lo + hi) / 2);
          const bit = await attacker.ask(victim, i, mid);
          answered += 1;
          expect(bit).toBe(truth[i]! + mid >= 0); // the oracle works...
          if (bit) hi = mid;
          else lo = mid + 1;
        }
        read.push(-lo);
      }
    } catch (error) {
      refusal = await errorCode(Promise.reject(error));
    }
    // ...and is spent after one hour's budget: at most one coefficient of 128 read.
    expect(refusal).toBe('custodian_rate_limited');
    expect(answered).toBe(8);
    expect(read.length).toBeLessThanOrEqual(1);
    const audit = readFileSync(join(options.keyDir, 'audit.log'), 'utf8');
    expect(audit).toContain('"alert:subject_budget_exhausted"');
    expect(await metric('faceid_custodian_alerts_total{alert="subject_budget_exhausted"}')).toBe('1');
  });

  it('made-up subjects get no ticket at all', async () => {
    for (let k = 0; k < 5; k += 1) {
      expect(await errorCode(attacker.ask(victim, 0, 0, { subject: newSubject('made-up') }))).toBe('custodian_subject_unknown');
    }
  });

  it('the victim\'s template under subjects the attacker registers decrypts to noise: the answers carry no information', async () => {
    const truth = Array.from(quantise(victimFace));
    // Positive control: the same crafted queries under a template's own subject are all correct.
    const control = await enrollAt(custodian.client, engine, victimFace, newSubject('control'));
    for (let q = 0; q < 8; q += 1) expect(await attacker.ask(control, q, -truth[q]! + (q % 2 ? 0 : -1))).toBe(q % 2 === 1);

    let agree = 0;
    let asked = 0;
    for (let s = 0; s < 10; s += 1) {
      // A registered subject of the attacker's, "activated" with the victim template's hash (the
      // custodian cannot tell a copy from a template), and the victim's result relabelled with
      // that subject's key id so that the custodian decrypts it.
      const subject = newSubject('minted');
      const own = await custodian.client.register(subject);
      await custodian.client.activate(subject, own.keyId, victim.hash);
      expect(own.keyId).not.toEqual(victim.keyId);
      for (let q = 0; q < 8; q += 1) {
        const i = s * 8 + q;
        const expected = q % 2 === 1; // c = -t_i (true) or -t_i - 1 (false): half and half
        const bit = await attacker.ask(victim, i, -truth[i]! + (expected ? 0 : -1), { subject, relabel: own.keyId });
        asked += 1;
        if (bit === expected) agree += 1;
      }
    }
    // A fair coin: P(outside 20..60 of 80) < 1e-5. The exact search needs every answer right.
    expect(asked).toBe(80);
    expect(agree).toBeGreaterThanOrEqual(20);
    expect(agree).toBeLessThanOrEqual(60);
  });

  it('without relabelling, a result made from the victim\'s template is refused under another subject\'s ticket', async () => {
    const subject = newSubject('minted');
    const own = await custodian.client.register(subject);
    await custodian.client.activate(subject, own.keyId, victim.hash);
    expect(await errorCode(attacker.ask(victim, 0, 0, { subject }))).toBe('he_key_mismatch');
  });

  it('the budget is durable: killing and restarting the custodian does not refill it', async () => {
    await custodian.kill();
    const client = custodian.client;
    custodian = await spawnCustodian(options);
    client.close();
    const fresh = await createOracleAttacker(custodian.client);
    try {
      expect(await errorCode(fresh.ask(victim, 0, 0))).toBe('custodian_rate_limited');
    } finally {
      fresh.close();
    }
  });

  it('registrations are capped (a burst of new subjects is refused and alerted)', async () => {
    const capped = await spawnCustodian({ ...options, keyDir: join(dir, 'capped'), socketPath: join(dir, 'capped.sock'), metricsListen: undefined, env: { ...options.env, CUSTODIAN_REGISTRATIONS_PER_HOUR: '5' } });
    try {
      for (let k = 0; k < 5; k += 1) await capped.client.register(newSubject('burst'));
      expect(await errorCode(capped.client.register(newSubject('burst')))).toBe('custodian_rate_limited');
      expect(readFileSync(join(dir, 'capped', 'audit.log'), 'utf8')).toContain('"alert:registration_cap_reached"');
    } finally {
      await capped.stop();
    }
  });
});

describe('finding 5: a foreign key in the custodian\'s store under a real subject\'s id', () => {
  it('is refused when loaded (the id is computed from the key), never used to judge', async () => {
    const target = await enrollAt(custodian.client, engine, victimFace, newSubject('swapped'));
    expect(await judgeAt(custodian.client, engine, target, victimFace)).toBe('match');
    await custodian.stop();
    // The attacker holds the custodian's disk and its sealing key, and writes a key of their own,
    // properly sealed, under the target's subject and registered key id.
    const he = await createHeContext();
    const foreign = generateKeyPair(he);
    const forged = createKeySealer(Buffer.from(sealingKey, 'base64')).seal(he, { secretKey: foreign.secretKey, keyId: Buffer.from(target.keyId) }, target.subject);
    foreign.secretKey.delete();
    he.close();
    const db = new DatabaseSync(join(options.keyDir, 'registry.sqlite'));
    db.prepare('UPDATE subjects SET sealed_key = ? WHERE subject = ?').run(forged, target.subject);
    db.close();
    custodian = await spawnCustodian(options);
    // No verdict for crafted results: the ticket itself fails on the key check.
    for (let k = 0; k < 3; k += 1) expect(await errorCode(custodian.client.ticket(target.subject, target.hash))).toBe('custodian_key_store_invalid');
  });
});
