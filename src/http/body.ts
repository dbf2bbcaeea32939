import busboy from 'busboy';
import type { Context } from 'koa';
import { AppError } from '../shared/index.ts';

/**
 * Request bodies, parsed with caps before anything else looks at them. Every route states its
 * own limits; the defaults are small.
 */

export interface FormLimits {
  maxBytes: number;
}

function contentType(ctx: Context): string {
  return (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
}

async function readCapped(ctx: Context, maxBytes: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > maxBytes) throw new AppError('body_too_large', 'The request is too large.', { status: 413 });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new AppError('body_too_large', 'The request is too large.', { status: 413 });
    chunks.push(chunk as Buffer);
  }
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

export interface MultipartLimits {
  /** Field name that carries files, e.g. `frame`. */
  fileField: string;
  maxFiles: number;
  maxFileBytes: number;
  maxFields: number;
  maxFieldBytes: number;
  allowedTypes: readonly string[];
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

/** multipart/form-data with per-file, per-field and count caps (busboy stops reading at a cap). */
export function parseMultipart(ctx: Context, limits: MultipartLimits): Promise<MultipartBody> {
  if (contentType(ctx) !== 'multipart/form-data') {
    return Promise.reject(new AppError('unsupported_media_type', 'Send frames as multipart/form-data.', { status: 415 }));
  }
  const maxTotal = limits.maxFiles * limits.maxFileBytes + limits.maxFields * limits.maxFieldBytes + 64 * 1024;
  if (Number(ctx.get('content-length') || 0) > maxTotal) {
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
    let failure: AppError | undefined;
    const fail = (error: AppError) => {
      if (!failure) failure = error;
    };

    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) fail(new AppError('field_too_large', `The field "${name}" is too long.`, { status: 413 }));
      else if (Object.hasOwn(fields, name)) fail(new AppError('bad_request', `The field "${name}" was sent twice.`, { status: 400 }));
      else fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      if (name !== limits.fileField) {
        fail(new AppError('bad_request', `Unexpected file field "${name}".`, { status: 400 }));
      } else if (!limits.allowedTypes.includes(info.mimeType.toLowerCase())) {
        fail(new AppError('unsupported_media_type', `Frames must be ${limits.allowedTypes.join(' or ')}.`, { status: 415 }));
      }
      stream.on('data', (chunk: Buffer) => {
        if (!failure) chunks.push(chunk);
      });
      stream.on('limit', () => fail(new AppError('image_too_large', 'An image is too large.', { status: 413 })));
      stream.on('close', () => {
        if (!failure) files.push({ mimeType: info.mimeType.toLowerCase(), data: Buffer.concat(chunks) });
      });
    });
    parser.on('filesLimit', () => fail(new AppError('too_many_frames', `Send at most ${limits.maxFiles} frames.`, { status: 413 })));
    parser.on('fieldsLimit', () => fail(new AppError('too_many_fields', 'Too many form fields.', { status: 413 })));
    parser.on('partsLimit', () => fail(new AppError('too_many_fields', 'Too many parts.', { status: 413 })));
    parser.on('error', (cause: unknown) => reject(failure ?? new AppError('bad_request', 'The multipart body is malformed.', { status: 400, cause })));
    parser.on('close', () => (failure ? reject(failure) : resolve({ fields, files })));
    ctx.req.on('aborted', () => reject(new AppError('bad_request', 'The upload was interrupted.', { status: 400 })));
    ctx.req.pipe(parser);
  });
}
