import sharp, { type OutputInfo, type Sharp } from 'sharp';

import type { RgbImage } from '../engine/rgbImage.js';

/**
 * The size of an image whose long side is `longSide`, keeping the aspect ratio of width × height:
 * integer pixels, each side at least 1.
 */
export function outputSize(width: number, height: number, longSide: number): { width: number; height: number } {
  if (!(width > 0 && height > 0 && longSide > 0)) {
    throw new RangeError(`outputSize needs positive sizes, got ${width}×${height} → ${longSide}`);
  }
  const scale = longSide / Math.max(width, height);
  return {
    width: width >= height ? longSide : Math.max(1, Math.round(width * scale)),
    height: height > width ? longSide : Math.max(1, Math.round(height * scale)),
  };
}

/** Scales an image (up or down, Lanczos 3) so that its long side is `longSide`, keeping its aspect ratio. */
export async function resizeToLongSide(image: RgbImage, longSide: number): Promise<RgbImage> {
  const size = outputSize(image.width, image.height, longSide);
  if (size.width === image.width && size.height === image.height) return image;
  const raw = await rawImage(image)
    .resize({ ...size, fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return rgbImageFromRaw(raw);
}

/** sharp's raw RGB output as an RgbImage (a plain Uint8Array view of the same bytes). */
export function rgbImageFromRaw({ data, info }: { data: Buffer; info: OutputInfo }): RgbImage {
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new Error(`expected ${info.width}×${info.height} RGB pixels, got ${info.channels} channels`);
  }
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

export function encodePng(image: RgbImage): Promise<Buffer> {
  return rawImage(image).png().toBuffer();
}

function rawImage(image: RgbImage): Sharp {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
}
