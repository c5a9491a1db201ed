import type { RgbImage } from '../engine/rgbImage.js';
import type { StylizeOptions } from '../../shared/stylizeOptions.js';
import { decodeImage, type DecodeLimits } from './decode.js';
import { resizeToLongSide } from './pixels.js';

export interface StylizeImages {
  /** At the output size: its long side is options.size. */
  readonly content: RgbImage;
  /** Scaled so its long side equals the content's, which sets the scale of the style's textures. */
  readonly style: RgbImage;
}

/**
 * A job's two images (paths or file bytes), decoded and brought to the job's size: the content so that its long side
 * is options.size (the output size), the style to the same long side. Both are decoded before an error is thrown;
 * the content image's error comes first.
 */
export async function prepareStylizeImages(
  content: Buffer | string,
  style: Buffer | string,
  options: Pick<StylizeOptions, 'size'>,
  limits: DecodeLimits = {},
): Promise<StylizeImages> {
  const [decodedContent, decodedStyle] = await Promise.allSettled([
    decodeImage(content, 'content image', limits),
    decodeImage(style, 'style image', limits),
  ]);
  if (decodedContent.status === 'rejected') throw decodedContent.reason;
  if (decodedStyle.status === 'rejected') throw decodedStyle.reason;
  const [resizedContent, resizedStyle] = await Promise.all([
    resizeToLongSide(decodedContent.value, options.size),
    resizeToLongSide(decodedStyle.value, options.size),
  ]);
  return { content: resizedContent, style: resizedStyle };
}
