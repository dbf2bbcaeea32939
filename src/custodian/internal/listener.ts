import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { AppError, type Clock, type Logger } from '../../shared/index.ts';
import { FrameReader, KIND_REQUEST, KIND_RESPONSE, NONCE_BYTES, decodeFrame, encodeFrame } from '../protocol.ts';
import { errorResponse, type CustodianService, type ServiceResponse } from './service.ts';

/**
 * Socket side of the custodian: framing, authentication and replay refusal (protocol.ts), then
 * the service. Every refusal is an authenticated error frame; a frame that is too large or does
 * not authenticate also closes the connection. Nothing a peer sends can crash the process.
 */
export interface ListenerOptions {
  socketPath: string | undefined;
  listen: { host: string; port: number } | undefined;
  sharedSecret: Buffer;
  maxFrameBytes: number;
  clockSkewMs: number;
  clock: Clock;
  service: CustodianService;
  logger: Logger;
  maxConnections?: number;
  idleTimeoutMs?: number;
}

export interface Listener {
  readonly address: string | { host: string; port: number };
  close(): Promise<void>;
}

/** Nonces seen within the accepted time window (a request outside it is refused anyway). */
function createReplayGuard(windowMs: number, clock: Clock) {
  const seen = new Map<string, number>();
  let lastSweep = clock.now();
  return {
    fresh(nonce: Buffer, time: number): 'ok' | 'custodian_request_stale' | 'custodian_replay' {
      const now = clock.now();
      if (Math.abs(now - time) > windowMs) return 'custodian_request_stale';
      if (now - lastSweep > windowMs) {
        for (const [key, at] of seen) if (at < now - 2 * windowMs) seen.delete(key);
        lastSweep = now;
      }
      const key = nonce.toString('hex');
      if (seen.has(key)) return 'custodian_replay';
      seen.set(key, time);
      return 'ok';
    },
  };
}

async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) throw new AppError('custodian_config_invalid', `${path} exists and is not a socket.`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = createConnection({ path });
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new AppError('custodian_already_running', `Another process is listening on ${path}.`);
  unlinkSync(path);
}

export async function startListener(options: ListenerOptions): Promise<Listener> {
  const { sharedSecret, logger, clock } = options;
  const replay = createReplayGuard(options.clockSkewMs, clock);
  const connections = new Set<Socket>();

  const reply = (socket: Socket, nonce: Buffer, response: ServiceResponse) => {
    if (socket.destroyed) return;
    socket.write(encodeFrame({ kind: KIND_RESPONSE, nonce, time: clock.now(), header: response.header, payload: Buffer.from(response.payload ?? []) }, sharedSecret));
  };

  function onFrame(socket: Socket, body: Buffer): void {
    const frame = decodeFrame(body, sharedSecret);
    if (typeof frame === 'string' || frame.kind !== KIND_REQUEST) {
      const code = frame === 'frame_unauthenticated' ? 'custodian_unauthenticated' : 'custodian_bad_request';
      logger.warn({ code }, 'refused a frame');
      const nonce = typeof frame === 'string' ? Buffer.alloc(NONCE_BYTES) : frame.nonce;
      reply(socket, nonce, errorResponse(code, 'Request refused.'));
      socket.end();
      return;
    }
    const freshness = replay.fresh(frame.nonce, frame.time);
    if (freshness !== 'ok') {
      logger.warn({ code: freshness }, 'refused a request');
      reply(socket, frame.nonce, errorResponse(freshness, 'Request refused (stale or replayed).'));
      return;
    }
    reply(socket, frame.nonce, options.service.handle(frame.header, frame.payload));
  }

  const server: Server = createServer((socket) => {
    if (connections.size >= (options.maxConnections ?? 64)) {
      socket.destroy();
      return;
    }
    connections.add(socket);
    socket.setTimeout(options.idleTimeoutMs ?? 10 * 60_000, () => socket.destroy());
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => socket.destroy());
    const reader = new FrameReader(options.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => {
      const bodies = reader.push(chunk);
      if (bodies === 'frame_too_large') {
        logger.warn({ code: 'custodian_frame_too_large' }, 'refused an oversized frame');
        reply(socket, Buffer.alloc(NONCE_BYTES), errorResponse('custodian_frame_too_large', 'Frame too large.'));
        socket.end();
        socket.pause();
        return;
      }
      for (const body of bodies) onFrame(socket, body);
    });
  });

  if (options.socketPath) {
    const path = options.socketPath;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    await removeStaleSocket(path);
    // The socket is created 0600 (umask) so that no other local user can even connect.
    const previous = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => { server.off('error', reject); resolve(); });
      });
    } finally {
      process.umask(previous);
    }
    chmodSync(path, 0o600);
  } else {
    const { host, port } = options.listen!;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(); });
    });
  }
  const bound = server.address();
  const address = typeof bound === 'string' ? bound : { host: (bound as AddressInfo).address, port: (bound as AddressInfo).port };

  return {
    address,
    close() {
      return new Promise<void>((resolve) => {
        for (const socket of connections) socket.destroy();
        server.close(() => resolve());
      });
    },
  };
}
