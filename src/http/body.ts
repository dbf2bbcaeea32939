import busboy from 'busboy';
import type { Context } from 'koa';
import { AppError } from '../shared/index.ts';

/**
 * Request bodies, parsed with caps before anything else looks at them. Every route states its
 * own limits; the defaults are small. Every stream involved (the request, the multipart parser,
 * each file part) has an error path: a truncated, aborted or malformed body is a 400, never an
 * unhandled 'error' event (which would take the process down).
 */

export interface FormLimits {
  maxBytes: number;
}

function contentType(ctx: Context): string {
  return (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
}

const interrupted = (cause?: unknown) => new AppError('upload_interrupted', 'The upload was interrupted or is incomplete. Please try again.', { status: 400, cause });

/** After the refusal is sent, how long the connection lingers and how much of the rest is read (and dropped). */
const LINGER_MS = 5_000;
const LINGER_BYTES = 1024 * 1024;

/**
 * After a refusal in the middle of an upload the rest of the body is not read: the response asks
 * the client to close the connection (RFC 9112, 9.6), so a large upload cannot keep it busy.
 * The close lingers (RFC 9112 9.6: half-close, then read for a while): closing a socket with
 * unread data sends a TCP reset, and a reset makes the client's stack drop the refusal it has
 * not read yet, so the client would see "connection reset" instead of the 4xx. At most
 * LINGER_BYTES more are read; then reading pauses (TCP flow control stops the sender, its
 * unread data stays in the kernels' buffers) instead of closing, because a busy client may
 * not have read the refusal yet. The socket is destroyed after LINGER_MS whatever happens.
 */
function stopReading(ctx: Context): void {
  ctx.set('Connection', 'close');
  ctx.req.unpipe();
  ctx.req.pause();
  const socket = ctx.req.socket;
  // Node's server calls destroySoon() once a `Connection: close` response is written.
  socket.destroySoon = () => {
    let dropped = 0;
    const close = () => socket.destroy();
    const timer = setTimeout(close, LINGER_MS);
    timer.unref();
    socket.on('close', () => clearTimeout(timer));
    socket.on('end', close);
    ctx.req.on('data', (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > LINGER_BYTES) ctx.req.pause();
    });
    socket.end();
    ctx.req.resume();
  };
}

async function readCapped(ctx: Context, maxBytes: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > maxBytes) {
    stopReading(ctx);
    throw new AppError('body_too_large', 'The request is too large.', { status: 413 });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of ctx.req) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) {
        stopReading(ctx);
        throw new AppError('body_too_large', 'The request is too large.', { status: 413 });
      }
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw interrupted(error);
  }
  if (!ctx.req.complete) throw interrupted();
  return Buffer.concat(chunks);
}

/** application/x-www-form-urlencoded -> single-valued fields (repeated names are refused). */
export async function parseForm(ctx: Context, limits: FormLimits = { maxBytes: 16 * 1024 }): Promise<Record<string, string>> {
  if (contentType(ctx) !== 'application/x-www-form-urlencoded') {
    throw new AppError('unsupported_media_type', 'Send this form as application/x-www-form-urlencoded.', { status: 415 });
  }
  const raw = await readCapped(ctx, limits.maxBytes);
  const fields: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(raw.toString('utf8'))) {
    if (Object.hasOwn(fields, name)) throw new AppError('bad_request', `The field "${name}" was sent twice.`, { status: 400 });
    fields[name] = value;
  }
  return fields;
}

/** application/json -> an object (WebAuthn responses). Anything but a JSON object is refused. */
export async function parseJson(ctx: Context, limits: FormLimits = { maxBytes: 32 * 1024 }): Promise<Record<string, unknown>> {
  if (contentType(ctx) !== 'application/json') {
    throw new AppError('unsupported_media_type', 'Send this request as application/json.', { status: 415 });
  }
  const raw = await readCapped(ctx, limits.maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (cause) {
    throw new AppError('bad_request', 'The request body is not valid JSON.', { status: 400, cause });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new AppError('bad_request', 'The request body must be a JSON object.', { status: 400 });
  return value as Record<string, unknown>;
}

export interface MultipartLimits {
  /** Field name that carries files, e.g. `frame`. */
  fileField: string;
  maxFiles: number;
  maxFileBytes: number;
  maxFields: number;
  maxFieldBytes: number;
  allowedTypes: readonly string[];
}

/**
 * A check on the first part of the body, run as soon as that part has arrived and before any file
 * is read (the CSRF token: a forged upload is refused after a few hundred bytes, not after 32 MB).
 */
export interface FirstFieldGate {
  name: string;
  check(value: string): void;
}

interface UploadedFile {
  mimeType: string;
  data: Buffer;
}

export interface MultipartBody {
  fields: Record<string, string>;
  files: UploadedFile[];
}

/**
 * The camera forms: JPEG or PNG `frame` parts plus `maxFields` short text fields. One definition
 * for sign-in, sign-up and re-enrollment; only the number of text fields differs.
 */
export function frameUploadLimits(frames: Pick<MultipartLimits, 'maxFiles' | 'maxFileBytes'>, maxFields: number): MultipartLimits {
  return { fileField: 'frame', maxFiles: frames.maxFiles, maxFileBytes: frames.maxFileBytes, maxFields, maxFieldBytes: 1024, allowedTypes: ['image/jpeg', 'image/png'] };
}

/**
 * multipart/form-data with per-file, per-field and count caps. The first refusal settles the
 * promise at once and stops reading: nothing more of the body is buffered.
 */
export function parseMultipart(ctx: Context, limits: MultipartLimits, gate?: FirstFieldGate): Promise<MultipartBody> {
  if (contentType(ctx) !== 'multipart/form-data') {
    return Promise.reject(new AppError('unsupported_media_type', 'Send frames as multipart/form-data.', { status: 415 }));
  }
  const maxTotal = limits.maxFiles * limits.maxFileBytes + limits.maxFields * limits.maxFieldBytes + 64 * 1024;
  if (Number(ctx.get('content-length') || 0) > maxTotal) {
    stopReading(ctx);
    return Promise.reject(new AppError('body_too_large', 'The request is too large.', { status: 413 }));
  }

  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: ctx.req.headers,
        limits: {
          files: limits.maxFiles,
          fileSize: limits.maxFileBytes,
          fields: limits.maxFields,
          fieldSize: limits.maxFieldBytes,
          parts: limits.maxFiles + limits.maxFields,
          headerPairs: 50,
        },
      });
    } catch (cause) {
      reject(new AppError('bad_request', 'The multipart body is malformed.', { status: 400, cause }));
      return;
    }
    const fields: Record<string, string> = {};
    const files: UploadedFile[] = [];
    let settled = false;
    let gateOpen = gate === undefined;

    const fail = (error: AppError) => {
      if (settled) return;
      settled = true;
      stopReading(ctx);
      // Whatever busboy still emits after this goes nowhere.
      parser.removeAllListeners('file');
      parser.removeAllListeners('field');
      parser.on('error', () => undefined);
      reject(error);
    };

    parser.on('field', (name, value, info) => {
      if (settled) return;
      if (!gateOpen) {
        if (name !== gate!.name) return fail(new AppError('csrf_invalid', 'This form has expired or was not sent from our page. Please go back and try again.', { status: 403 }));
        try {
          gate!.check(value);
        } catch (error) {
          return fail(error instanceof AppError ? error : new AppError('bad_request', 'The form was refused.', { status: 400, cause: error }));
        }
        gateOpen = true;
      }
      if (info.valueTruncated) fail(new AppError('field_too_large', `The field "${name}" is too long.`, { status: 413 }));
      else if (Object.hasOwn(fields, name)) fail(new AppError('bad_request', `The field "${name}" was sent twice.`, { status: 400 }));
      else fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      // Every file stream is drained or destroyed, and its errors (a body that ends inside the
      // part: "Unexpected end of form") are handled here, never left unhandled.
      stream.on('error', (cause: unknown) => fail(interrupted(cause)));
      if (settled) {
        stream.resume();
        return;
      }
      if (!gateOpen) {
        stream.resume();
        return fail(new AppError('csrf_invalid', 'This form has expired or was not sent from our page. Please go back and try again.', { status: 403 }));
      }
      if (name !== limits.fileField) {
        stream.resume();
        return fail(new AppError('bad_request', `Unexpected file field "${name}".`, { status: 400 }));
      }
      // An empty file input: browsers send one part with no file name, octet-stream and no bytes
      // (HTML, "constructing the entry list"). That is "no frame", not a frame of the wrong type.
      if (!info.filename && info.mimeType.toLowerCase() === 'application/octet-stream') {
        stream.resume();
        return;
      }
      if (!limits.allowedTypes.includes(info.mimeType.toLowerCase())) {
        stream.resume();
        return fail(new AppError('unsupported_media_type', `Frames must be ${limits.allowedTypes.join(' or ')}.`, { status: 415 }));
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => {
        if (!settled) chunks.push(chunk);
      });
      stream.on('limit', () => fail(new AppError('image_too_large', 'An image is too large.', { status: 413 })));
      stream.on('end', () => {
        if (!settled && !stream.truncated) files.push({ mimeType: info.mimeType.toLowerCase(), data: Buffer.concat(chunks) });
      });
    });
    parser.on('filesLimit', () => fail(new AppError('too_many_frames', `Send at most ${limits.maxFiles} frames.`, { status: 413 })));
    parser.on('fieldsLimit', () => fail(new AppError('too_many_fields', 'Too many form fields.', { status: 413 })));
    parser.on('partsLimit', () => fail(new AppError('too_many_fields', 'Too many parts.', { status: 413 })));
    parser.on('error', (cause: unknown) => fail(interrupted(cause)));
    parser.on('close', () => {
      if (settled) return;
      if (!gateOpen) return fail(new AppError('csrf_invalid', 'This form has expired or was not sent from our page. Please go back and try again.', { status: 403 }));
      settled = true;
      resolve({ fields, files });
    });
    ctx.req.on('aborted', () => fail(interrupted()));
    ctx.req.on('error', (cause: unknown) => fail(interrupted(cause)));
    ctx.req.on('close', () => {
      if (!ctx.req.complete) fail(interrupted());
    });
    ctx.req.pipe(parser);
  });
}
