import { connect } from 'node:net';

/**
 * An HTTP/1.1 client at the byte level, for what fetch cannot send: truncated, aborted, slow and
 * malformed bodies. The body is written chunk by chunk; it can stop to wait for the server's
 * answer (did the server refuse before the rest was sent?), drip bytes slowly, or abort.
 */
export interface RawRequest {
  method?: string;
  path: string;
  headers: Record<string, string>;
  chunks: Buffer[];
  /** Before writing chunk k, wait (up to 10 s) for the response to begin. */
  awaitResponseBefore?: number;
  /** Milliseconds between chunks (a slow client). */
  delayMs?: number;
  /** Destroy the socket after writing this many chunks. */
  abortAfter?: number;
  /** Half-close our side right after the last chunk (a body shorter than its Content-Length). */
  endAfterWrite?: boolean;
  /** Called before chunk k is written (e.g. to signal the server while the request is in flight). */
  beforeChunk?: (k: number) => Promise<void>;
}

export interface RawResponse {
  status: number | undefined;
  text: string;
  /** Body bytes written before the server answered or closed (the rest was never sent). */
  sentBytes: number;
  /** Whether the server closed the connection. */
  closed: boolean;
}

export function rawRequest(base: string, request: RawRequest): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    let received = '';
    let sentBytes = 0;
    let closed = false;
    let answered: (() => void) | undefined;
    const done = () => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(received)?.[1];
      resolve({ status: status ? Number(status) : undefined, text: received, sentBytes, closed });
    };
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      answered?.();
    });
    socket.on('error', () => undefined); // EPIPE / ECONNRESET when the server stops reading: expected
    socket.on('close', () => {
      closed = true;
      answered?.();
      done();
    });
    const waitForAnswer = () => new Promise<void>((resume) => {
      if (received || closed) return resume();
      const timer = setTimeout(resume, 10_000);
      answered = () => {
        clearTimeout(timer);
        resume();
      };
    });
    socket.once('connect', async () => {
      const head = [`${request.method ?? 'POST'} ${request.path} HTTP/1.1`, `Host: ${url.host}`, ...Object.entries(request.headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
      socket.write(head);
      for (const [k, chunk] of request.chunks.entries()) {
        if (request.abortAfter !== undefined && k >= request.abortAfter) {
          socket.destroy();
          return;
        }
        if (request.awaitResponseBefore === k) await waitForAnswer();
        await request.beforeChunk?.(k);
        if (closed || socket.destroyed || received) break;
        if (request.delayMs) await new Promise((resume) => setTimeout(resume, request.delayMs));
        const ok = socket.write(chunk);
        sentBytes += chunk.length;
        if (!ok) await new Promise<void>((resume) => { socket.once('drain', resume); socket.once('close', resume); });
      }
      if (request.endAfterWrite) socket.end();
      // Wait for the answer, then close our side.
      await waitForAnswer();
      setTimeout(() => socket.end(), 200);
    });
  });
}

/** A multipart body, as parts with a boundary. */
export function multipart(boundary: string, parts: Array<{ name: string; value?: string; file?: { data: Buffer; type: string } }>, options: { close?: boolean } = {}): Buffer {
  const out: Buffer[] = [];
  for (const part of parts) {
    if (part.file) {
      out.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"; filename="f.jpg"\r\nContent-Type: ${part.file.type}\r\n\r\n`), part.file.data, Buffer.from('\r\n'));
    } else {
      out.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value ?? ''}\r\n`));
    }
  }
  if (options.close !== false) out.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}
