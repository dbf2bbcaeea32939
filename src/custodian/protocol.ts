import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Wire protocol between the IdP (client.ts) and the key custodian (server.ts), over a Unix socket
 * (mode 0600) or loopback TCP. Every message is one frame:
 *
 *   u32 BE   L: length of everything after this field; checked against a cap before reading on
 *   u8       protocol version (1)
 *   u8       kind: 0x51 'Q' request | 0x52 'R' response
 *   16 B     nonce: random per request; a response carries its request's nonce
 *   u64 BE   sender's time, ms since the epoch
 *   u32 BE   J: length of the JSON header
 *   J B      JSON header (UTF-8)
 *              request:  { op: 'health' | 'register' | 'activate' | 'forget' | 'ticket' | 'decoy' | 'judge', subject?, keyId?, templateHash?, ticket? }
 *              response: { ok: true, ... } | { ok: false, code, message }
 *   P B      binary payload, raw bytes (judge request: blinded ciphertext; register, ticket and
 *            decoy responses: a public key)
 *   32 B     HMAC-SHA256(shared secret, version byte .. end of payload)
 *
 * The MAC covers the kind, so a response cannot be reflected as a request, and the nonce, so a
 * recorded "match" answer cannot be replayed to a later request. The custodian refuses requests
 * whose time is off by more than the allowed skew and nonces it has seen within that window, so a
 * captured request cannot be replayed either (the judge ticket is single-use on top of that).
 */
export const PROTOCOL_VERSION = 1;
export const KIND_REQUEST = 0x51;
export const KIND_RESPONSE = 0x52;
export const NONCE_BYTES = 16;
export const MAC_BYTES = 32;
/** version + kind + nonce + time + JSON length. */
const FIXED_BYTES = 1 + 1 + NONCE_BYTES + 8 + 4;
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;
const MAX_HEADER_BYTES = 4096;

export type CustodianOp = 'health' | 'register' | 'activate' | 'forget' | 'ticket' | 'decoy' | 'judge';
export type Verdict = 'match' | 'no_match';

export interface Frame {
  kind: number;
  nonce: Buffer;
  time: number;
  header: Record<string, unknown>;
  payload: Buffer;
}

export type FrameError = 'frame_malformed' | 'frame_unauthenticated';

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

export function encodeFrame(frame: Frame, secret: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(frame.header), 'utf8');
  const body = Buffer.alloc(FIXED_BYTES + json.length + frame.payload.length);
  let offset = body.writeUInt8(PROTOCOL_VERSION, 0);
  offset = body.writeUInt8(frame.kind, offset);
  offset += frame.nonce.copy(body, offset, 0, NONCE_BYTES);
  offset = body.writeBigUInt64BE(BigInt(frame.time), offset);
  offset = body.writeUInt32BE(json.length, offset);
  offset += json.copy(body, offset);
  frame.payload.copy(body, offset);
  const mac = createHmac('sha256', secret).update(body).digest();
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length + MAC_BYTES);
  return Buffer.concat([length, body, mac]);
}

/** Decodes and authenticates one frame body (without its length prefix). */
export function decodeFrame(body: Buffer, secret: Uint8Array): Frame | FrameError {
  if (body.length < FIXED_BYTES + MAC_BYTES) return 'frame_malformed';
  const signed = body.subarray(0, body.length - MAC_BYTES);
  const expected = createHmac('sha256', secret).update(signed).digest();
  if (!timingSafeEqual(expected, body.subarray(body.length - MAC_BYTES))) return 'frame_unauthenticated';
  if (body.readUInt8(0) !== PROTOCOL_VERSION) return 'frame_malformed';
  const kind = body.readUInt8(1);
  const nonce = Buffer.from(body.subarray(2, 2 + NONCE_BYTES));
  const time = Number(body.readBigUInt64BE(2 + NONCE_BYTES));
  const jsonLength = body.readUInt32BE(2 + NONCE_BYTES + 8);
  if (jsonLength > MAX_HEADER_BYTES || FIXED_BYTES + jsonLength > signed.length) return 'frame_malformed';
  let header: unknown;
  try {
    header = JSON.parse(signed.subarray(FIXED_BYTES, FIXED_BYTES + jsonLength).toString('utf8'));
  } catch {
    return 'frame_malformed';
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) return 'frame_malformed';
  const payload = Buffer.from(signed.subarray(FIXED_BYTES + jsonLength));
  return { kind, nonce, time, header: header as Record<string, unknown>, payload };
}

/**
 * Splits a byte stream into frame bodies. The length prefix is checked against the cap as soon as
 * its 4 bytes arrive, so an oversized frame is refused before it is buffered.
 */
export class FrameReader {
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #expected = -1;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Returns the complete frame bodies, or 'frame_too_large' (the stream must then be closed). */
  push(chunk: Buffer): Buffer[] | 'frame_too_large' {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.#expected < 0) {
        if (this.#buffered < 4) break;
        this.#expected = this.#take(4).readUInt32BE(0);
        if (this.#expected > this.#maxFrameBytes) {
          this.#chunks = [];
          this.#buffered = 0;
          return 'frame_too_large';
        }
      }
      if (this.#buffered < this.#expected) break;
      frames.push(this.#take(this.#expected));
      this.#expected = -1;
    }
    return frames;
  }

  #take(count: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const taken = Buffer.from(all.subarray(0, count));
    const rest = all.subarray(count);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered = rest.length;
    return taken;
  }
}
