import { deflateSync, crc32 } from 'node:zlib';
import fc from 'fast-check';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeFrame } from '../../../src/face/decode.ts';
import { FACE_LIMITS, validateFrame } from '../../../src/face/index.ts';
import { isAppError } from '../../../src/shared/index.ts';

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    if (!isAppError(error)) throw error;
    return { code: error.code, status: error.status };
  }
  throw new Error('expected a refusal');
};
const asyncRefusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (error) {
    if (!isAppError(error)) throw error;
    return { code: error.code, status: error.status };
  }
  throw new Error('expected a refusal');
};

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** A few hundred bytes declaring width x height RGB pixels: what a decompression bomb looks like. */
function bombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter, no interlace
  const rows = deflateSync(Buffer.alloc(64 * (1 + width * 3)), { level: 9 });
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', rows), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A minimal JPEG header (SOI, SOF0) declaring width x height, without image data. */
function jpegHeader(width: number, height: number): Buffer {
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, height >> 8, height & 0xff, width >> 8, width & 0xff, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]), sof]);
}

/** A deterministic noisy image (byte i is i * 7919 mod 251), filled in place: a JS array of 9 M numbers took seconds. */
const noise = (width: number, height: number) => {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i += 1) pixels[i] = (i * 7919) % 251;
  return sharp(pixels, { raw: { width, height, channels: 3 } });
};

describe('validateFrame', () => {
  it('accepts JPEG and PNG and reads their dimensions from the header', async () => {
    const jpeg = await noise(640, 480).jpeg().toBuffer();
    const png = await noise(320, 200).png().toBuffer();
    expect(validateFrame(jpeg)).toEqual({ format: 'jpeg', width: 640, height: 480 });
    expect(validateFrame(png)).toEqual({ format: 'png', width: 320, height: 200 });
    const progressive = await noise(300, 400).jpeg({ progressive: true }).toBuffer();
    expect(validateFrame(progressive)).toMatchObject({ width: 300, height: 400 });
  });

  it.each([
    ['text', Buffer.from('hello, I am definitely a face')],
    ['empty', Buffer.alloc(0)],
    ['a PDF', Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n', 'latin1')],
    ['a GIF', Buffer.from('GIF89a\x80\x02\xe0\x01\xf7\x00\x00', 'latin1')],
    ['a WebP', Buffer.from('RIFF\x24\x00\x00\x00WEBPVP8 ', 'latin1')],
    ['an SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"/>')],
    ['a JPEG signature alone', Buffer.from([0xff, 0xd8, 0xff])],
    ['a PNG signature alone', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])],
  ])('refuses %s as bad_image (400)', (_name, bytes) => {
    expect(refusal(() => validateFrame(bytes))).toEqual({ code: 'bad_image', status: 400 });
  });

  it('refuses random bytes, and never fails with anything but a typed refusal', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        try {
          validateFrame(bytes);
        } catch (error) {
          expect(isAppError(error)).toBe(true);
          expect(['bad_image', 'image_too_large']).toContain((error as { code: string }).code);
        }
      }),
      { numRuns: 2000 },
    );
    // Random bytes behind a JPEG signature: still refused (no frame header can be found intact).
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), (tail) => {
        const bytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), tail]);
        try {
          const info = validateFrame(bytes);
          expect(info.width).toBeGreaterThan(0);
        } catch (error) {
          expect(isAppError(error)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses decompression bombs from the header, before decoding (413)', async () => {
    const bomb = bombPng(30_000, 30_000);
    expect(bomb.length).toBeLessThan(20_000);
    expect(refusal(() => validateFrame(bomb))).toEqual({ code: 'image_too_large', status: 413 });
    expect(refusal(() => validateFrame(jpegHeader(65_000, 65_000)))).toEqual({ code: 'image_too_large', status: 413 });
    // Under the side cap but over the pixel cap.
    expect(refusal(() => validateFrame(jpegHeader(4096, 4096), { maxPixels: 4000 * 4000 }))).toEqual({ code: 'image_too_large', status: 413 });
    await expect(asyncRefusal(decodeFrame(bomb))).resolves.toEqual({ code: 'image_too_large', status: 413 });
  });

  it('refuses oversized frames by byte count (413)', () => {
    const big = Buffer.alloc(FACE_LIMITS.frame.maxBytes + 1);
    big.set([0xff, 0xd8, 0xff], 0);
    expect(refusal(() => validateFrame(big))).toEqual({ code: 'image_too_large', status: 413 });
  });

  it('refuses tiny images that cannot hold a face', async () => {
    const png = await noise(32, 32).png().toBuffer();
    expect(refusal(() => validateFrame(png))).toEqual({ code: 'bad_image', status: 400 });
  });
});

describe('decodeFrame', () => {
  it('decodes to RGB, bounded to the working size', async () => {
    const jpeg = await noise(2000, 1500).jpeg().toBuffer();
    const image = await decodeFrame(jpeg);
    expect([image.width, image.height]).toEqual([FACE_LIMITS.frame.workingSide, 960]);
    expect(image.data.length).toBe(image.width * image.height * 3);
    const png = await noise(640, 480).ensureAlpha().png().toBuffer();
    const decoded = await decodeFrame(png);
    expect([decoded.width, decoded.height, decoded.data.length]).toEqual([640, 480, 640 * 480 * 3]);
  });

  it('refuses truncated JPEG and PNG files (bad_image)', async () => {
    const jpeg = await noise(640, 480).jpeg({ quality: 90 }).toBuffer();
    const png = await noise(640, 480).png().toBuffer();
    for (const whole of [jpeg, png]) {
      for (const fraction of [0.5, 0.9]) {
        const cut = whole.subarray(0, Math.floor(whole.length * fraction));
        expect(validateFrame(cut).width).toBe(640); // the header is intact...
        await expect(asyncRefusal(decodeFrame(cut))).resolves.toEqual({ code: 'bad_image', status: 400 }); // ...the data is not
      }
      expect(refusal(() => validateFrame(whole.subarray(0, 20)))).toEqual({ code: 'bad_image', status: 400 });
    }
  });
});
