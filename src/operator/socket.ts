import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { AppError, isAppError, type ErrorCode, type Logger } from '../shared/index.ts';
import type { CommandRequest, CommandResult, Commands } from './commands.ts';

/**
 * The operator API of an IdP on the embedded database: the embedded database belongs to one
 * process (src/db/lock.ts), so while the IdP runs, the CLI sends its commands here and the IdP
 * runs them (commands.ts) against its own open database. HTTP over a Unix socket in
 * DATA_DIR/operator/ (a 0700 directory; the socket 0600), and every request carries the bearer
 * token of DATA_DIR/operator/token (0600, new at every start): reaching it takes the IdP user's
 * file permissions, not just a path.
 */
export const operatorPaths = (dataDir: string) => {
  const dir = join(dataDir, 'operator');
  return { dir, socket: join(dir, 'operator.sock'), token: join(dir, 'token') };
};

/** Largest request: a few face images, base64-encoded. */
const MAX_BODY_BYTES = 48 * 1024 * 1024;
/** A command that enrolls a face loads it through the engine: allow it time. */
const REQUEST_TIMEOUT_MS = 180_000;

interface WireRequest {
  command: string;
  options: CommandRequest['options'];
  faces: string[];
}

type WireAnswer = { ok: true; text: string; data: Record<string, unknown> } | { ok: false; error: { code: string; message: string } };

function send(res: http.ServerResponse, status: number, body: WireAnswer): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export interface OperatorApi {
  readonly socketPath: string;
  close(): Promise<void>;
}

export async function startOperatorApi(deps: { dataDir: string; commands: Commands; logger: Logger }): Promise<OperatorApi> {
  const paths = operatorPaths(deps.dataDir);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  chmodSync(paths.dir, 0o700);
  const token = randomBytes(32).toString('base64url');
  writeFileSync(paths.token, token, { mode: 0o600 });
  chmodSync(paths.token, 0o600);
  const expected = Buffer.from(`Bearer ${token}`);
  // A socket left by an IdP that was killed: ours now (this process holds the database lock).
  rmSync(paths.socket, { force: true });

  const server = http.createServer((req, res) => {
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      deps.logger.warn('operator API: request without the right token refused');
      send(res, 401, { ok: false, error: { code: 'operator_unauthorized', message: 'The operator token is missing or wrong.' } });
      req.resume();
      return;
    }
    if (req.method !== 'POST' || req.url !== '/v1/command') {
      send(res, 404, { ok: false, error: { code: 'not_found', message: 'POST /v1/command only.' } });
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        send(res, 413, { ok: false, error: { code: 'body_too_large', message: 'Request too large.' } });
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      void (async () => {
        let request: CommandRequest;
        try {
          const wire = JSON.parse(Buffer.concat(chunks).toString('utf8')) as WireRequest;
          if (typeof wire.command !== 'string' || typeof wire.options !== 'object' || wire.options === null || !Array.isArray(wire.faces)) throw new Error('shape');
          request = { command: wire.command, options: wire.options, faces: wire.faces.map((face) => Buffer.from(String(face), 'base64')) };
        } catch {
          send(res, 400, { ok: false, error: { code: 'bad_request', message: 'Not a command request.' } });
          return;
        }
        try {
          const result = await deps.commands.run(request, { remote: true });
          deps.logger.info({ command: request.command }, 'operator command done');
          send(res, 200, { ok: true, text: result.text, data: result.data });
        } catch (error) {
          if (isAppError(error)) {
            deps.logger.info({ command: request.command, errorCode: error.code }, 'operator command refused');
            send(res, error.status >= 400 && error.status < 600 ? error.status : 500, { ok: false, error: { code: error.code, message: error.message } });
          } else {
            deps.logger.error({ err: error, command: request.command }, 'operator command failed');
            send(res, 500, { ok: false, error: { code: 'internal_error', message: (error as Error).message } });
          }
        }
      })();
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(paths.socket, () => resolve());
  });
  chmodSync(paths.socket, 0o600);
  const removeFiles = () => {
    rmSync(paths.token, { force: true });
    rmSync(paths.socket, { force: true });
  };
  // An exit without close (a fatal error) leaves no token behind either.
  process.once('exit', removeFiles);

  return {
    socketPath: paths.socket,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      process.off('exit', removeFiles);
      removeFiles();
    },
  };
}

/**
 * Sends a command to the IdP running on `dataDir`. Resolves with its result, rejects with the
 * AppError it answered, or with operator_unreachable when no IdP serves the socket.
 */
export async function sendToOperator(dataDir: string, request: CommandRequest): Promise<CommandResult> {
  const paths = operatorPaths(dataDir);
  let token: string;
  try {
    token = readFileSync(paths.token, 'utf8').trim();
  } catch (cause) {
    throw new AppError('operator_unreachable', `No operator token in ${paths.dir} (is the IdP running, and are you its user?).`, { status: 503, cause });
  }
  const body = JSON.stringify({ command: request.command, options: request.options, faces: request.faces.map((face) => Buffer.from(face).toString('base64')) });
  const answer = await new Promise<{ status: number; body: WireAnswer }>((resolve, reject) => {
    const req = http.request(
      { socketPath: paths.socket, path: '/v1/command', method: 'POST', timeout: REQUEST_TIMEOUT_MS, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as WireAnswer });
          } catch (cause) {
            reject(new AppError('operator_unreachable', 'The IdP answered something that is not an operator reply.', { status: 502, cause }));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (cause) => reject(new AppError('operator_unreachable', `Could not reach the IdP's operator socket ${paths.socket}: ${cause.message}`, { status: 503, cause })));
    req.end(body);
  });
  if (answer.body.ok) return { text: answer.body.text, data: answer.body.data };
  // The IdP's own error, with its code: the CLI reports it as if it had run the command itself.
  throw new AppError(answer.body.error.code as ErrorCode, answer.body.error.message, { status: answer.status });
}

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    operator_unauthorized: true;
    operator_unreachable: true;
  }
}
