import { readFile } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';

import type { RgbImage } from '../engine/rgbImage.js';
import { ImageInputError } from './errors.js';
import { rgbImageFromRaw } from './pixels.js';

/** Formats people export from Figma and cameras; anything else is refused with a clear message. */
const ACCEPTED_FORMATS: ReadonlySet<string> = new Set(['png', 'jpeg', 'webp']);
const ACCEPTED_FORMATS_TEXT = 'a PNG, JPEG or WebP image';

/**
 * Decoding more than this is refused before any pixel is decoded (≈ 10000 × 10000; its RGB bytes alone are 300 MB).
 * Far above any useful input, since the output's long side is at most a few thousand pixels.
 */
export const MAX_INPUT_PIXELS = 100_000_000;

export interface DecodeLimits {
  /** Refuse images whose long side is longer, from their header (by default only MAX_INPUT_PIXELS applies). */
  readonly maxLongSide?: number;
}

/**
 * Decodes a PNG, JPEG or WebP file (a path) or its bytes into 8-bit sRGB: turned upright by its EXIF orientation,
 * with any transparency flattened onto white (Figma frames are often transparent).
 * `label` says which image this is ("content image"); every error is an ImageInputError naming it.
 */
export async function decodeImage(input: Buffer | string, label: string, limits: DecodeLimits = {}): Promise<RgbImage> {
  const name = typeof input === 'string' ? `${label} ${input}` : label;
  const bytes = typeof input === 'string' ? await readImageFile(input, name) : input;
  if (bytes.length === 0) throw new ImageInputError(`${name}: empty (0 bytes)`);

  let metadata: Metadata;
  try {
    // Reads the header only; without a pixel limit so that an oversized image is reported with its dimensions.
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw decodeError(name, error);
  }
  if (!ACCEPTED_FORMATS.has(metadata.format)) {
    throw new ImageInputError(`${name}: not ${ACCEPTED_FORMATS_TEXT} (it is ${metadata.format.toUpperCase()})`);
  }
  if (metadata.width * metadata.height > MAX_INPUT_PIXELS) {
    throw tooLargeError(name, metadata.width, metadata.height);
  }
  const { maxLongSide = Number.POSITIVE_INFINITY } = limits;
  if (Math.max(metadata.width, metadata.height) > maxLongSide) {
    throw new ImageInputError(
      `${name}: too large (${metadata.width}×${metadata.height}); the long side may be at most ${maxLongSide} pixels`,
    );
  }

  try {
    const raw = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, autoOrient: true })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return rgbImageFromRaw(raw);
  } catch (error) {
    throw decodeError(name, error);
  }
}

async function readImageFile(path: string, name: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageInputError(`${name}: file not found`);
    if (code === 'EISDIR') throw new ImageInputError(`${name}: is a directory, not an image file`);
    if (code === 'EACCES' || code === 'EPERM') throw new ImageInputError(`${name}: permission denied`);
    throw new ImageInputError(`${name}: cannot read the file (${(error as Error).message})`);
  }
}

function decodeError(name: string, error: unknown): ImageInputError {
  const reason = error instanceof Error ? error.message : String(error);
  if (/unsupported image format/i.test(reason)) {
    return new ImageInputError(`${name}: not ${ACCEPTED_FORMATS_TEXT}`);
  }
  return new ImageInputError(`${name}: corrupt image data (${reason.trim()})`);
}

function tooLargeError(name: string, width: number, height: number): ImageInputError {
  return new ImageInputError(
    `${name}: too large (${width}×${height} pixels; at most ${MAX_INPUT_PIXELS / 1_000_000} megapixels)`,
  );
}
