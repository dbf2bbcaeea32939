import { faceError } from './errors.ts';
import { FRAME_LIMITS, type FrameLimits } from './limits.ts';

export interface FrameInfo {
  readonly format: 'jpeg' | 'png';
  readonly width: number;
  readonly height: number;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Cheap checks on an encoded frame, run before any decoder sees it: size cap, a real JPEG or PNG
 * signature (everything else is refused, including GIF/WebP/TIFF/SVG/PDF that the decoder would
 * happily parse), and the dimensions read from the header against the pixel cap, so that a
 * decompression bomb (a few KB declaring 30000x30000 px) is refused before any allocation.
 * Truncation inside the entropy-coded data is left to the decoder (sharp with failOn).
 */
export function validateFrame(bytes: Uint8Array, limits: Partial<FrameLimits> = {}): FrameInfo {
  const lim = { ...FRAME_LIMITS, ...limits };
  if (!(bytes instanceof Uint8Array)) throw faceError('bad_image', 'not a byte array');
  if (bytes.byteLength > lim.maxBytes) throw faceError('image_too_large', `over ${lim.maxBytes} bytes`);
  const info = readHeader(bytes);
  if (info.width < lim.minSide || info.height < lim.minSide) throw faceError('bad_image', 'image too small to hold a face');
  if (info.width > lim.maxSide || info.height > lim.maxSide || info.width * info.height > lim.maxPixels) {
    throw faceError('image_too_large', `over ${lim.maxSide} px per side or ${lim.maxPixels} px`);
  }
  return info;
}

function readHeader(bytes: Uint8Array): FrameInfo {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return readJpeg(bytes);
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return readPng(bytes);
  throw faceError('bad_image', 'not a JPEG or PNG');
}

const be16 = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;
const be32 = (b: Uint8Array, i: number) => ((b[i]! << 24) >>> 0) + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!);

/** PNG: the IHDR chunk must come first (PNG spec 5.6) and holds width and height. */
function readPng(bytes: Uint8Array): FrameInfo {
  if (bytes.length < 8 + 8 + 13 + 4 + 12) throw faceError('bad_image', 'truncated PNG');
  const chunkLength = be32(bytes, 8);
  const type = String.fromCharCode(bytes[12]!, bytes[13]!, bytes[14]!, bytes[15]!);
  if (type !== 'IHDR' || chunkLength !== 13) throw faceError('bad_image', 'PNG without IHDR');
  const width = be32(bytes, 16);
  const height = be32(bytes, 20);
  if (width === 0 || height === 0) throw faceError('bad_image', 'PNG with zero dimension');
  return { format: 'png', width, height };
}

/**
 * JPEG: walk the marker segments up to the first SOFn frame header (ITU T.81 B.2.2), which holds
 * the height and width. A stream that ends, or reaches SOS/EOI, before a frame header is refused.
 */
function readJpeg(bytes: Uint8Array): FrameInfo {
  let i = 2;
  while (i < bytes.length) {
    if (bytes[i] !== 0xff) throw faceError('bad_image', 'corrupt JPEG marker');
    while (i < bytes.length && bytes[i] === 0xff) i += 1; // fill bytes
    if (i >= bytes.length) break;
    const marker = bytes[i]!;
    i += 1;
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue; // RSTn, TEM: no length
    if (marker === 0xd9 || marker === 0xda || marker === 0xd8) break; // EOI, SOS or a second SOI before any frame header
    if (i + 2 > bytes.length) break;
    const length = be16(bytes, i);
    if (length < 2 || i + length > bytes.length) break;
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (length < 8) break;
      const height = be16(bytes, i + 3);
      const width = be16(bytes, i + 5);
      // Height 0 means "defined later by a DNL marker": legal but never produced by a camera.
      if (width === 0 || height === 0) throw faceError('bad_image', 'JPEG with zero dimension');
      return { format: 'jpeg', width, height };
    }
    i += length;
  }
  throw faceError('bad_image', 'truncated JPEG header');
}
