import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustodianClient, spawnCustodian, type SpawnedCustodian } from '../../../src/custodian/index.ts';
import { FrameReader, KIND_REQUEST, decodeFrame, encodeFrame, newNonce, type Frame } from '../../../src/custodian/protocol.ts';
import { loadOrCreateKeys, secretKeyPath } from '../../../src/custodian/internal/keystore.ts';
import { createHeContext, createHeEngine, type HeEngine } from '../../../src/he/index.ts';
import { errorCode as codeOf } from '../../support/errors.ts';
import { randomDescriptor } from '../he/helpers.ts';

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
  env: { CUSTODIAN_LOG_LEVEL: 'silent', CUSTODIAN_RATE_SUBJECT_PER_MINUTE: '10', CUSTODIAN_RATE_GLOBAL_PER_MINUTE: '1000' },
};

let custodian: SpawnedCustodian;
let engine: HeEngine;
const alice = randomDescriptor(128);
const stranger = randomDescriptor(128);
let aliceTemplate: Uint8Array;

beforeAll(async () => {
  custodian = await spawnCustodian(spawnOptions);
  const { paramsVersion, publicKey, keyId } = await custodian.client.publicKey();
  engine = await createHeEngine({ params: paramsVersion, publicKey, keyId });
  aliceTemplate = engine.encryptTemplate(alice);
});

afterAll(async () => {
  engine?.close();
  await custodian?.stop();
  rmSync(dir, { recursive: true, force: true });
});

let subjectCounter = 0;
const freshSubject = () => `subject-${process.pid}-${(subjectCounter += 1)}`;

async function judgeOnce(probe: Float32Array, template = aliceTemplate) {
  const ticket = await custodian.client.issueTicket(freshSubject());
  return custodian.client.judge(ticket, engine.matchAndBlind(template, probe, 0.5));
}

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
    expect(await judgeOnce(alice)).toBe('match');
    expect(await judgeOnce(stranger)).toBe('no_match');
    // Concurrent calls share one connection; answers are matched to requests by nonce.
    const verdicts = await Promise.all([alice, stranger, alice, stranger, alice].map((probe) => judgeOnce(probe)));
    expect(verdicts).toEqual(['match', 'no_match', 'match', 'no_match', 'match']);
  });

  it('refuses a reused ticket, and keeps serving', async () => {
    const ticket = await custodian.client.issueTicket(freshSubject());
    const blinded = engine.matchAndBlind(aliceTemplate, alice, 0.5);
    expect(await custodian.client.judge(ticket, blinded)).toBe('match');
    expect(await codeOf(custodian.client.judge(ticket, blinded))).toBe('custodian_ticket_invalid');
    expect(await codeOf(custodian.client.judge('A'.repeat(43), blinded))).toBe('custodian_ticket_invalid');
    expect(await judgeOnce(alice)).toBe('match');
  });

  it('refuses malformed ciphertexts and other parameter versions, and keeps serving', async () => {
    const blinded = engine.matchAndBlind(aliceTemplate, alice, 0.5);
    const otherVersion = Buffer.concat([Buffer.from(blinded.subarray(0, 4)), Buffer.from([11]), Buffer.from('bgv-4096-v1'), Buffer.from(blinded.subarray(16))]);
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), 'he_bad_ciphertext'],
      [randomBytes(5000), 'he_bad_ciphertext'],
      [blinded.subarray(0, blinded.length - 10), 'he_bad_ciphertext'],
      [aliceTemplate, 'he_bad_ciphertext'], // a template is not a blinded result
      [otherVersion, 'he_params_mismatch'],
    ];
    for (const [bytes, code] of cases) {
      const ticket = await custodian.client.issueTicket(freshSubject());
      expect(await codeOf(custodian.client.judge(ticket, bytes))).toBe(code);
      // The ticket is spent even though the ciphertext was refused.
      expect(await codeOf(custodian.client.judge(ticket, blinded))).toBe('custodian_ticket_invalid');
    }
    expect(await judgeOnce(alice)).toBe('match');
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
    expect(errorCode((await rawExchange(request({ op: 'ticket', subject: 'x', extra: 1 }))).frame)).toBe('custodian_bad_request');

    const wrongSecret = createCustodianClient({ socketPath, sharedSecret: randomBytes(32), timeoutMs: 2000 });
    expect(await codeOf(wrongSecret.health())).toBe('custodian_unavailable');
    wrongSecret.close();

    expect(await judgeOnce(alice)).toBe('match');
  });

  it('rate-limits tickets per subject', async () => {
    const subject = freshSubject();
    for (let i = 0; i < 10; i += 1) await custodian.client.issueTicket(subject);
    const error = await custodian.client.issueTicket(subject).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'custodian_rate_limited', status: 429 });
    expect(await custodian.client.issueTicket(freshSubject())).toBeTruthy();
  });

  it('keeps the secret key sealed at rest (0600 in a 0700 directory) and audits without biometric data', async () => {
    const path = secretKeyPath(keyDir, 'bgv-2048-v1');
    expect(statSync(keyDir).mode & 0o777).toBe(0o700);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
    const sealed = readFileSync(path);
    const he = await createHeContext();
    const keys = loadOrCreateKeys(he, keyDir, Buffer.from(sealingKey, 'base64'));
    const raw = Buffer.from(keys.secretKey.saveToArray(he.seal.ComprModeType.none) as Uint8Array);
    keys.secretKey.delete();
    he.close();
    expect(keys.created).toBe(false);
    // No 32-byte window of the serialised SEAL key (past its header) appears in the file.
    for (let offset = 64; offset + 32 <= raw.length; offset += 997) expect(sealed.indexOf(raw.subarray(offset, offset + 32))).toBe(-1);
    raw.fill(0);
    const wrong = await createHeContext();
    expect(() => loadOrCreateKeys(wrong, keyDir, randomBytes(32))).toThrow(expect.objectContaining({ code: 'custodian_key_store_invalid' }));
    wrong.close();
    expect(sealed.subarray(0, 4).toString('latin1')).toBe('FCSK');

    const audit = readFileSync(join(keyDir, 'audit.log'), 'utf8');
    expect(statSync(join(keyDir, 'audit.log')).mode & 0o777).toBe(0o600);
    const outcomes = audit.trim().split('\n').map((line) => JSON.parse(line).outcome);
    expect(outcomes).toContain('match');
    expect(outcomes).toContain('no_match');
    expect(outcomes).toContain('rate_limited');
    expect(outcomes).toContain('refused:ticket_reused');
    expect(outcomes).toContain('refused:he_bad_ciphertext');
    expect(audit).not.toContain('subject-');
  });

  it('fails fast with custodian_unavailable when killed, and the same client works after a respawn with the same key', async () => {
    await custodian.kill();
    const started = Date.now();
    expect(await codeOf(custodian.client.health())).toBe('custodian_unavailable');
    expect(await codeOf(custodian.client.judge('A'.repeat(43), new Uint8Array(10)))).toBe('custodian_unavailable');
    expect(Date.now() - started).toBeLessThan(10_000); // connection refused, not the 20 s timeout

    const client = custodian.client;
    custodian = await spawnCustodian(spawnOptions);
    expect(await client.health()).toMatchObject({ status: 'ok' });
    // The template made before the restart still matches: same secret key.
    const ticket = await client.issueTicket(freshSubject());
    expect(await client.judge(ticket, engine.matchAndBlind(aliceTemplate, alice, 0.5))).toBe('match');
    client.close();
  });
});
