import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustodianClient, spawnCustodian, type SpawnedCustodian } from '../../../src/custodian/index.ts';
import { FrameReader, KIND_REQUEST, decodeFrame, encodeFrame, newNonce, type Frame } from '../../../src/custodian/protocol.ts';
import { createKeySealer, generateKeyPair } from '../../../src/custodian/internal/keys.ts';
import { createHeEngine, type HeEngine } from '../../../src/he/index.ts';
import { createHeContext } from '../../../src/he/keyside.ts';
import { enrollAt, judgeAt, newSubject, type Enrolled } from '../../../support/custodian.ts';
import { errorCode as codeOf } from '../../../support/errors.ts';
import { randomDescriptor } from '../../../support/he-keys.ts';

/** The real custodian process over its Unix socket: the protocol, its refusals, its store at rest. */
const dir = mkdtempSync(join(tmpdir(), 'faceid-custodian-'));
const keyDir = join(dir, 'keys');
const socketPath = join(dir, 'run', 'custodian.sock');
const sharedSecret = randomBytes(32).toString('base64url');
const sealingKey = randomBytes(32).toString('base64');
const spawnOptions = {
  keyDir,
  socketPath,
  sharedSecret,
  sealingKey,
  // Long enough that "fails fast" below can only mean "refused", not "timed out".
  timeoutMs: 20_000,
  env: { CUSTODIAN_LOG_LEVEL: 'silent', CUSTODIAN_BUDGET_SUBJECT_PER_HOUR: '6', CUSTODIAN_BUDGET_SUBJECT_PER_DAY: '1000', CUSTODIAN_RATE_GLOBAL_PER_MINUTE: '10000' },
};

let custodian: SpawnedCustodian;
let engine: HeEngine;
const alice = randomDescriptor(128);
const stranger = randomDescriptor(128);
let enrolled: Enrolled;

beforeAll(async () => {
  custodian = await spawnCustodian(spawnOptions);
  engine = await createHeEngine();
  enrolled = await enrollAt(custodian.client, engine, alice);
});

afterAll(async () => {
  engine?.close();
  await custodian?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh enrolled subject for alice's face (each has its own budget). */
const fresh = () => enrollAt(custodian.client, engine, alice);

/** Sends raw bytes on a new connection; returns the first response frame (or undefined) and whether the server closed. */
function rawExchange(bytes: Buffer, awaitClose = false, secret = Buffer.from(sharedSecret)): Promise<{ frame: Frame | string | undefined; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: socketPath });
    const reader = new FrameReader(1 << 20);
    let frame: Frame | string | undefined;
    const timer = setTimeout(() => { socket.destroy(); resolve({ frame, closed: false }); }, 1500);
    socket.on('data', (chunk) => {
      const bodies = reader.push(chunk);
      if (bodies !== 'frame_too_large' && bodies.length > 0 && frame === undefined) {
        frame = decodeFrame(bodies[0]!, secret);
        if (!awaitClose) {
          clearTimeout(timer);
          socket.destroy();
          resolve({ frame, closed: false });
        }
      }
    });
    socket.on('close', () => { clearTimeout(timer); resolve({ frame, closed: true }); });
    socket.on('error', reject);
    socket.write(bytes);
  });
}

const request = (header: Record<string, unknown>, options: { time?: number; nonce?: Buffer; secret?: Buffer; payload?: Buffer } = {}) =>
  encodeFrame({ kind: KIND_REQUEST, nonce: options.nonce ?? newNonce(), time: options.time ?? Date.now(), header, payload: options.payload ?? Buffer.alloc(0) }, options.secret ?? Buffer.from(sharedSecret));

const errorCode = (frame: Frame | string | undefined) => (typeof frame === 'object' ? frame.header.code : frame);

describe('custodian process', () => {
  it('answers one bit: match for the enrolled face, no_match for another', async () => {
    expect(await custodian.client.health()).toEqual({ status: 'ok', paramsVersion: 'bgv-2048-v1' });
    const subject = await fresh();
    expect(await judgeAt(custodian.client, engine, subject, alice)).toBe('match');
    expect(await judgeAt(custodian.client, engine, subject, stranger)).toBe('no_match');
    // Concurrent calls share one connection; answers are matched to requests by nonce.
    const other = await fresh();
    const verdicts = await Promise.all([alice, stranger, alice, stranger].map((probe) => judgeAt(custodian.client, engine, other, probe)));
    expect(verdicts).toEqual(['match', 'no_match', 'match', 'no_match']);
  });

  it('issues tickets only for enrolled subjects and for the template each was enrolled with', async () => {
    expect(await codeOf(custodian.client.ticket(newSubject('never-registered'), enrolled.hash))).toBe('custodian_subject_unknown');
    // Registered but never activated: still unknown.
    const pending = newSubject('pending');
    await custodian.client.register(pending);
    expect(await codeOf(custodian.client.ticket(pending, enrolled.hash))).toBe('custodian_subject_unknown');
    // Another subject's template, or a re-randomised copy of this one: not the registered template.
    const other = await fresh();
    expect(await codeOf(custodian.client.ticket(enrolled.subject, other.hash))).toBe('custodian_template_mismatch');
    expect(await codeOf(custodian.client.activate(newSubject('nobody'), enrolled.keyId, enrolled.hash))).toBe('custodian_registration_unknown');
  });

  it('a template judged under another subject\'s ticket is refused by key id, never decrypted', async () => {
    const a = await fresh();
    const b = await fresh();
    const ticket = await custodian.client.ticket(b.subject, b.hash);
    // The web tier would have to make the blinded result under a's key (the template's own).
    const aKey = await custodian.client.ticket(a.subject, a.hash);
    const blinded = engine.matchAndBlind(a.template, alice, 0.5, aKey.key);
    expect(await codeOf(custodian.client.judge(ticket.ticket, blinded))).toBe('he_key_mismatch');
  });

  it('refuses a reused ticket, and keeps serving', async () => {
    const subject = await fresh();
    const ticket = await custodian.client.ticket(subject.subject, subject.hash);
    const blinded = engine.matchAndBlind(subject.template, alice, 0.5, ticket.key);
    expect(await custodian.client.judge(ticket.ticket, blinded)).toBe('match');
    expect(await codeOf(custodian.client.judge(ticket.ticket, blinded))).toBe('custodian_ticket_invalid');
    expect(await codeOf(custodian.client.judge('A'.repeat(43), blinded))).toBe('custodian_ticket_invalid');
    expect(await judgeAt(custodian.client, engine, subject, alice)).toBe('match');
  });

  it('refuses malformed ciphertexts and other parameter versions, and keeps serving', async () => {
    const subject = await fresh();
    const first = await custodian.client.ticket(subject.subject, subject.hash);
    const blinded = engine.matchAndBlind(subject.template, alice, 0.5, first.key);
    const otherVersion = Buffer.concat([Buffer.from(blinded.subarray(0, 4)), Buffer.from([11]), Buffer.from('bgv-4096-v1'), Buffer.from(blinded.subarray(16))]);
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), 'he_bad_ciphertext'],
      [randomBytes(5000), 'he_bad_ciphertext'],
      [blinded.subarray(0, blinded.length - 10), 'he_bad_ciphertext'],
      [subject.template, 'he_bad_ciphertext'], // a template is not a blinded result
      [otherVersion, 'he_params_mismatch'],
    ];
    for (const [bytes, code] of cases) {
      const ticket = await custodian.client.ticket(subject.subject, subject.hash);
      expect(await codeOf(custodian.client.judge(ticket.ticket, bytes))).toBe(code);
      // The ticket is spent even though the ciphertext was refused.
      expect(await codeOf(custodian.client.judge(ticket.ticket, blinded))).toBe('custodian_ticket_invalid');
    }
    expect(await custodian.client.judge(first.ticket, blinded)).toBe('match');
  });

  it('answers decoy tickets with no_match whatever is sent', async () => {
    for (let i = 0; i < 3; i += 1) {
      const decoy = await custodian.client.decoy();
      // Even a result that would be a match under a real key.
      const template = engine.encryptTemplate(alice, decoy.key);
      expect(await custodian.client.judge(decoy.ticket, engine.matchAndBlind(template, alice, 0.5, decoy.key))).toBe('no_match');
    }
  });

  it('refuses oversized frames before reading them, bad MACs, replays and stale requests, and keeps serving', async () => {
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(50 * 1024 * 1024);
    const oversized = await rawExchange(huge, true);
    expect(errorCode(oversized.frame)).toBe('custodian_frame_too_large');
    expect(oversized.closed).toBe(true);

    const forged = await rawExchange(request({ op: 'health' }, { secret: Buffer.alloc(32, 1) }), true);
    expect(errorCode(forged.frame)).toBe('custodian_unauthenticated');
    expect(forged.closed).toBe(true);

    const garbage = Buffer.concat([Buffer.from([0, 0, 0, 100]), randomBytes(100)]);
    expect(errorCode((await rawExchange(garbage)).frame)).toBe('custodian_unauthenticated');

    const captured = request({ op: 'health' });
    expect((await rawExchange(captured)).frame).toMatchObject({ header: { ok: true, status: 'ok' } });
    expect(errorCode((await rawExchange(captured)).frame)).toBe('custodian_replay');

    expect(errorCode((await rawExchange(request({ op: 'health' }, { time: Date.now() - 10 * 60_000 }))).frame)).toBe('custodian_request_stale');
    expect(errorCode((await rawExchange(request({ op: 'decrypt' }))).frame)).toBe('custodian_bad_request');
    expect(errorCode((await rawExchange(request({ op: 'publicKey' }))).frame)).toBe('custodian_bad_request');
    expect(errorCode((await rawExchange(request({ op: 'ticket', subject: 'x', templateHash: enrolled.hash, extra: 1 }))).frame)).toBe('custodian_bad_request');

    const wrongSecret = createCustodianClient({ socketPath, sharedSecret: randomBytes(32), timeoutMs: 2000 });
    expect(await codeOf(wrongSecret.health())).toBe('custodian_unavailable');
    wrongSecret.close();

    expect(await judgeAt(custodian.client, engine, await fresh(), alice)).toBe('match');
  });

  it('spends a per-subject budget of tickets, and other subjects keep theirs', async () => {
    const subject = await fresh();
    for (let i = 0; i < 6; i += 1) await custodian.client.ticket(subject.subject, subject.hash);
    const error = await custodian.client.ticket(subject.subject, subject.hash).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'custodian_rate_limited', status: 429 });
    expect(await judgeAt(custodian.client, engine, await fresh(), alice)).toBe('match');
  });

  it('forgets a subject: its template can never be judged again', async () => {
    const subject = await fresh();
    expect(await custodian.client.forget(subject.subject)).toBe(true);
    expect(await custodian.client.forget(subject.subject)).toBe(false);
    expect(await codeOf(custodian.client.ticket(subject.subject, subject.hash))).toBe('custodian_subject_unknown');
  });

  it('re-enrollment destroys the previous key: the old template is no longer the subject\'s', async () => {
    const subject = await fresh();
    const again = await enrollAt(custodian.client, engine, stranger, subject.subject);
    expect(await codeOf(custodian.client.ticket(subject.subject, subject.hash))).toBe('custodian_template_mismatch');
    expect(await judgeAt(custodian.client, engine, again, stranger)).toBe('match');
    expect(await judgeAt(custodian.client, engine, again, alice)).toBe('no_match');
  });

  it('keeps secret keys sealed at rest (0600 in a 0700 directory) and audits without biometric data', async () => {
    expect(statSync(keyDir).mode & 0o777).toBe(0o700);
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
    for (const name of readdirSync(keyDir)) expect(statSync(join(keyDir, name)).mode & 0o077, name).toBe(0);
    const audit = readFileSync(join(keyDir, 'audit.log'), 'utf8');
    const outcomes = audit.trim().split('\n').map((line) => JSON.parse(line).outcome);
    for (const outcome of ['registered', 'activated', 'issued', 'match', 'no_match', 'rate_limited', 'forgotten', 'refused:ticket_reused', 'refused:he_bad_ciphertext', 'refused:subject_unknown', 'refused:template_mismatch', 'alert:template_mismatch', 'alert:subject_budget_exhausted']) {
      expect(outcomes, outcome).toContain(outcome);
    }
    expect(audit).not.toContain('subject-');
  });

  it('survives a kill: the same client works after a respawn, with the same keys and the same spent budgets', async () => {
    const spent = await fresh();
    for (let i = 0; i < 6; i += 1) await custodian.client.ticket(spent.subject, spent.hash);
    await custodian.kill();
    const started = Date.now();
    expect(await codeOf(custodian.client.health())).toBe('custodian_unavailable');
    expect(await codeOf(custodian.client.judge('A'.repeat(43), new Uint8Array(10)))).toBe('custodian_unavailable');
    expect(Date.now() - started).toBeLessThan(10_000); // connection refused, not the 20 s timeout

    const client = custodian.client;
    custodian = await spawnCustodian(spawnOptions);
    expect(await client.health()).toMatchObject({ status: 'ok' });
    // The template made before the restart still matches: its key is in the store.
    expect(await judgeAt(client, engine, enrolled, alice)).toBe('match');
    // A restart does not refill a budget.
    expect(await codeOf(client.ticket(spent.subject, spent.hash))).toBe('custodian_rate_limited');
    client.close();
  });
});

describe('the custodian store at rest', () => {
  it('holds no secret key in the clear, refuses another sealing key, and refuses a key under another subject\'s or a foreign id', async () => {
    await custodian.stop();
    const file = join(keyDir, 'registry.sqlite');
    const he = await createHeContext();
    const sealer = createKeySealer(Buffer.from(sealingKey, 'base64'));
    try {
      const db = new DatabaseSync(file);
      const rows = db.prepare('SELECT subject, key_id, sealed_key FROM subjects').all() as Array<{ subject: string; key_id: Uint8Array; sealed_key: Uint8Array }>;
      expect(rows.length).toBeGreaterThan(3);
      const everything = Buffer.concat(readdirSync(keyDir).map((name) => readFileSync(join(keyDir, name))));
      for (const row of rows.slice(0, 3)) {
        const secretKey = sealer.open(he, row.sealed_key, row.subject, row.key_id);
        const raw = Buffer.from(secretKey.saveToArray(he.seal.ComprModeType.none) as Uint8Array);
        secretKey.delete();
        // No 32-byte window of a serialised SEAL key (past its header) appears anywhere in the directory.
        for (let offset = 64; offset + 32 <= raw.length; offset += 997) expect(everything.indexOf(raw.subarray(offset, offset + 32))).toBe(-1);
        raw.fill(0);
      }
      // A sealed key moved to another subject's row does not open (its AAD names the subject)...
      const [a, b] = rows as [typeof rows[0], typeof rows[0]];
      expect(() => sealer.open(he, a.sealed_key, b.subject, a.key_id)).toThrow(expect.objectContaining({ code: 'custodian_key_store_invalid' }));
      // ...and a foreign key, properly sealed for subject a but under a's registered id, is refused
      // because the id is computed from the key itself.
      const foreign = generateKeyPair(he);
      const forged = sealer.seal(he, { secretKey: foreign.secretKey, keyId: Buffer.from(a.key_id) }, a.subject);
      foreign.secretKey.delete();
      expect(() => sealer.open(he, forged, a.subject, a.key_id)).toThrow(expect.objectContaining({ code: 'custodian_key_store_invalid' }));
      db.close();
      // Another sealing key: the custodian refuses to start at all.
      await expect(spawnCustodian({ ...spawnOptions, sealingKey: randomBytes(32).toString('base64'), readyTimeoutMs: 20_000 })).rejects.toThrow(/sealing key does not open the store/);
      // A second custodian on the same directory is refused while the first runs.
      custodian = await spawnCustodian(spawnOptions);
      await expect(spawnCustodian({ ...spawnOptions, socketPath: join(dir, 'second.sock') })).rejects.toThrow(/locked by another process/);
      expect(await judgeAt(custodian.client, engine, enrolled, alice)).toBe('match');
    } finally {
      he.close();
    }
  });
});
