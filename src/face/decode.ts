import sharp from 'sharp';
import { isAppError } from '../shared/index.ts';
import { faceError } from './errors.ts';
import { FRAME_LIMITS, type FrameLimits } from './limits.ts';
import { validateFrame } from './validate.ts';

export interface RgbImage {
  /** width * height * 3 bytes, row-major RGB. */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

// libvips caches recent operations, decoded pixels included: frames must not outlive a request.
sharp.cache(false);

/**
 * Validates, then decodes a frame to RGB no larger than `workingSide` (never enlarged).
 * `failOn: 'error'` refuses truncated or corrupt data instead of decoding a grey half-image;
 * `limitInputPixels` repeats the header check inside libvips (defence in depth).
 * EXIF orientation is applied (uploaded phone photos); canvas frames have none.
 */
export async function decodeFrame(bytes: Uint8Array, limits: Partial<FrameLimits> = {}): Promise<RgbImage> {
  const lim = { ...FRAME_LIMITS, ...limits };
  validateFrame(bytes, lim);
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error', limitInputPixels: lim.maxPixels, sequentialRead: true, animated: false })
      .rotate()
      .resize({ width: lim.workingSide, height: lim.workingSide, fit: 'inside', withoutEnlargement: true })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw faceError('bad_image', 'unexpected channel count');
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (error) {
    if (isAppError(error)) throw error;
    const message = error instanceof Error ? error.message : '';
    if (/pixel limit/i.test(message)) throw faceError('image_too_large', 'over the pixel limit', error);
    throw faceError('bad_image', 'undecodable', error);
  }
}
