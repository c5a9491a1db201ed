import type { RgbImage } from '../engine/rgbImage.js';
import { styleImageLabel } from '../engine/styleTargets.js';
import { MIN_IMAGE_SIDE } from '../engine/vggLayers.js';
import type { StylizeOptions } from '../../shared/stylizeOptions.js';
import { decodeImage, type DecodeLimits } from './decode.js';
import { outputSize, resizeToLongSide } from './pixels.js';

export interface StylizeImages {
  /** At the output size: its long side is options.size. */
  readonly content: RgbImage;
  /**
   * In the request's order, each scaled so that its long side is options.styleScale × the content's: the scale of
   * the style's textures (the brush size).
   */
  readonly styles: readonly RgbImage[];
}

/**
 * A job's images (paths or file bytes), decoded and brought to the job's size: the content so that its long side is
 * options.size (the output size), each style image to options.styleScale times that. All are decoded before an error
 * is thrown; the content image's error comes first, then the style images' in order. With several style images each
 * is named by its number ("style image 2").
 */
export async function prepareStylizeImages(
  content: Buffer | string,
  styles: ReadonlyArray<Buffer | string>,
  options: Pick<StylizeOptions, 'size' | 'styleScale'>,
  limits: DecodeLimits = {},
): Promise<StylizeImages> {
  const decoded = await Promise.allSettled([
    decodeImage(content, 'content image', limits),
    ...styles.map((style, index) => decodeImage(style, styleImageLabel(index, styles.length), limits)),
  ]);
  const failed = decoded.find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  const [decodedContent, ...decodedStyles] = decoded.map((outcome) => (outcome as PromiseFulfilledResult<RgbImage>).value);
  const [resizedContent, ...resizedStyles] = await Promise.all([
    resizeToLongSide(decodedContent!, options.size),
    ...decodedStyles.map((style) => resizeToLongSide(style, styleLongSide(style, options))),
  ]);
  return { content: resizedContent!, styles: resizedStyles };
}

/**
 * styleScale × the output's long side; where that leaves a side below what the network takes (MIN_IMAGE_SIDE: a tiny
 * brush on a tiny output), as much larger as needed, up to the output's long side.
 */
function styleLongSide(style: RgbImage, options: Pick<StylizeOptions, 'size' | 'styleScale'>): number {
  const longSide = Math.max(1, Math.round(options.size * options.styleScale));
  const scaled = outputSize(style.width, style.height, longSide);
  const shortSide = Math.min(scaled.width, scaled.height);
  if (shortSide >= MIN_IMAGE_SIDE) return longSide;
  return Math.max(longSide, Math.min(options.size, Math.ceil((longSide * MIN_IMAGE_SIDE) / shortSide)));
}
