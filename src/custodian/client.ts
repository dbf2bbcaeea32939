import { connect, type Socket } from 'node:net';
import { AppError, systemClock, type Clock, type ErrorCode } from '../shared/index.ts';
import {
  DEFAULT_MAX_FRAME_BYTES, FrameReader, KIND_REQUEST, KIND_RESPONSE, decodeFrame, encodeFrame, newNonce,
  type CustodianOp, type Verdict,
} from './protocol.ts';

/**
 * The IdP's client for the key custodian. Any failure to get an authenticated answer in time (dead,
 * slow or misbehaving custodian) is `custodian_unavailable` (503): callers treat it as denial, never
 * acceptance. A failed connection is dropped and the next call reconnects, so a restarted custodian
 * is picked up without restarting the IdP.
 */
export interface CustodianClientOptions {
  socketPath?: string;
  host?: string;
  port?: number;
  sharedSecret: string | Uint8Array;
  /** Per call, including connecting. Default 3000 ms. */
  timeoutMs?: number;
  maxFrameBytes?: number;
  clock?: Clock;
}

/** A public key of one subject's key pair, and that key's id (stamped on its templates and results). */
export interface SubjectKey {
  publicKey: Uint8Array;
  keyId: Uint8Array;
}

export interface Registration extends SubjectKey {
  paramsVersion: string;
}

/** A single-use judge ticket, with a fresh public key of the key it is bound to. */
export interface Ticket {
  ticket: string;
  key: SubjectKey;
  paramsVersion: string;
}

export interface CustodianHealth {
  status: 'ok';
  paramsVersion: string;
}

/**
 * What the IdP can ask of the custodian (`subject` is a pseudonymous account reference; the
 * custodian never sees account ids). One bit per judge call, never a value.
 */
export interface CustodianClient {
  /** A new key pair for `subject`, pending until `activate`. */
  register(subject: string): Promise<Registration>;
  /** Binds the pending key to the template encrypted under it (its SHA-256, base64url); the subject's previous key is destroyed. */
  activate(subject: string, keyId: Uint8Array, templateHash: string): Promise<void>;
  /** Destroys the subject's keys; whether it had any. */
  forget(subject: string): Promise<boolean>;
  /** A ticket for one judgement of `subject`'s template (refused unless it is the registered one). */
  ticket(subject: string, templateHash: string): Promise<Ticket>;
  /** A ticket whose judgement is always no_match: unknown usernames do the same work. */
  decoy(): Promise<Ticket>;
  judge(ticket: string, blinded: Uint8Array): Promise<Verdict>;
  health(): Promise<CustodianHealth>;
  close(): void;
}

interface Pending {
  resolve(value: { header: Record<string, unknown>; payload: Buffer }): void;
  reject(error: AppError): void;
  timer: NodeJS.Timeout;
}

/**
 * Refusals keep their stable code. Those the IdP acts on have their own status; anything else the
 * custodian reports (stale clock, replay, internal error, an unreadable ciphertext) means "no
 * answer" to the user: 503, a denial, never an acceptance.
 */
const REMOTE_STATUS: Record<string, number> = {
  custodian_rate_limited: 429,
  custodian_ticket_invalid: 403,
  custodian_subject_unknown: 403,
  custodian_template_mismatch: 403,
  custodian_registration_unknown: 409,
  he_key_mismatch: 409,
};

const unavailable = (why: string, cause?: unknown) =>
  new AppError('custodian_unavailable', `The key custodian is unavailable (${why}).`, { status: 503, expose: false, cause });

export function createCustodianClient(options: CustodianClientOptions): CustodianClient {
  if (!options.socketPath && !(options.host && options.port)) {
    throw new AppError('custodian_config_invalid', 'A custodian client needs a socket path or host and port.');
  }
  const secret = typeof options.sharedSecret === 'string' ? Buffer.from(options.sharedSecret, 'utf8') : Buffer.from(options.sharedSecret);
  if (secret.length < 32) throw new AppError('custodian_config_invalid', 'The custodian shared secret must be at least 32 bytes.');
  const timeoutMs = options.timeoutMs ?? 3000;
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const clock = options.clock ?? systemClock;
  const pending = new Map<string, Pending>();
  let socket: Socket | undefined;
  let connecting: Promise<Socket> | undefined;
  let closed = false;

  function fail(target: Socket, error: AppError): void {
    target.destroy();
    if (socket === target) socket = undefined;
    for (const [key, call] of pending) {
      clearTimeout(call.timer);
      pending.delete(key);
      call.reject(error);
    }
  }

  function open(): Promise<Socket> {
    if (socket && !socket.destroyed) return Promise.resolve(socket);
    connecting ??= new Promise<Socket>((resolve, reject) => {
      const target = options.socketPath ? connect({ path: options.socketPath }) : connect({ host: options.host!, port: options.port! });
      const reader = new FrameReader(maxFrameBytes);
      const timer = setTimeout(() => {
        target.destroy();
        reject(unavailable('connect timeout'));
      }, timeoutMs);
      target.once('connect', () => {
        clearTimeout(timer);
        socket = target;
        resolve(target);
      });
      target.on('error', (error) => {
        clearTimeout(timer);
        reject(unavailable('connection failed', error));
        fail(target, unavailable('connection failed', error));
      });
      target.on('close', () => fail(target, unavailable('connection closed')));
      target.on('data', (chunk: Buffer) => {
        const bodies = reader.push(chunk);
        if (bodies === 'frame_too_large') return fail(target, unavailable('oversized response'));
        for (const body of bodies) {
          const frame = decodeFrame(body, secret);
          const call = typeof frame === 'string' ? undefined : pending.get(frame.nonce.toString('hex'));
          if (typeof frame === 'string' || frame.kind !== KIND_RESPONSE || !call) {
            return fail(target, unavailable('unauthenticated or unexpected response'));
          }
          pending.delete(frame.nonce.toString('hex'));
          clearTimeout(call.timer);
          call.resolve({ header: frame.header, payload: frame.payload });
        }
      });
    }).finally(() => {
      connecting = undefined;
    });
    return connecting;
  }

  async function call(op: CustodianOp, fields: Record<string, unknown> = {}, payload: Uint8Array = new Uint8Array(0)) {
    if (closed) throw unavailable('client closed');
    const started = Date.now();
    const target = await open();
    const nonce = newNonce();
    const key = nonce.toString('hex');
    const frame = encodeFrame({ kind: KIND_REQUEST, nonce, time: clock.now(), header: { op, ...fields }, payload: Buffer.from(payload) }, secret);
    const response = await new Promise<{ header: Record<string, unknown>; payload: Buffer }>((resolve, reject) => {
      const remaining = Math.max(1, timeoutMs - (Date.now() - started));
      const timer = setTimeout(() => {
        // A custodian that does not answer in time is treated as dead; the connection is dropped.
        pending.delete(key);
        reject(unavailable('timeout'));
        fail(target, unavailable('timeout on another call'));
      }, remaining);
      pending.set(key, { resolve, reject, timer });
      target.write(frame);
    });
    const header = response.header;
    if (header.ok !== true) {
      // A code from the wire: only our own kinds pass (anything else is "no answer").
      const code = (typeof header.code === 'string' && /^(custodian|he)_[a-z_]{1,48}$/.test(header.code) ? header.code : 'custodian_unavailable') as ErrorCode;
      throw new AppError(code, typeof header.message === 'string' ? header.message.slice(0, 200) : 'The custodian refused the request.', {
        status: REMOTE_STATUS[code] ?? 503,
        expose: false,
      });
    }
    return response;
  }

  const malformed = () => unavailable('malformed response');
  const keyIdOf = (header: Record<string, unknown>) => {
    if (typeof header.keyId !== 'string' || !/^[0-9a-f]{32}$/.test(header.keyId)) throw malformed();
    return new Uint8Array(Buffer.from(header.keyId, 'hex'));
  };
  const ticketOf = ({ header, payload }: { header: Record<string, unknown>; payload: Buffer }): Ticket => {
    if (typeof header.ticket !== 'string' || typeof header.paramsVersion !== 'string' || payload.length === 0) throw malformed();
    return { ticket: header.ticket, paramsVersion: header.paramsVersion, key: { keyId: keyIdOf(header), publicKey: new Uint8Array(payload) } };
  };

  return {
    async register(subject) {
      const { header, payload } = await call('register', { subject });
      if (typeof header.paramsVersion !== 'string' || payload.length === 0) throw malformed();
      return { keyId: keyIdOf(header), publicKey: new Uint8Array(payload), paramsVersion: header.paramsVersion };
    },
    async activate(subject, keyId, templateHash) {
      await call('activate', { subject, keyId: Buffer.from(keyId).toString('hex'), templateHash });
    },
    async forget(subject) {
      const { header } = await call('forget', { subject });
      return header.existed === true;
    },
    ticket: async (subject, templateHash) => ticketOf(await call('ticket', { subject, templateHash })),
    decoy: async () => ticketOf(await call('decoy')),
    async judge(ticket, blinded) {
      const { header } = await call('judge', { ticket }, blinded);
      if (header.verdict !== 'match' && header.verdict !== 'no_match') throw malformed();
      return header.verdict;
    },
    async health() {
      const { header } = await call('health');
      if (header.status !== 'ok' || typeof header.paramsVersion !== 'string') throw malformed();
      return { status: 'ok', paramsVersion: header.paramsVersion };
    },
    close() {
      closed = true;
      if (socket) fail(socket, unavailable('client closed'));
    },
  };
}
