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
  return withStyleImages(prepareContentImage(content, options, limits), prepareStyleImages(styles, options, limits));
}

/** The content image at the output size (its long side is options.size). */
export async function prepareContentImage(
  content: Buffer | string,
  options: Pick<StylizeOptions, 'size'>,
  limits: DecodeLimits = {},
): Promise<RgbImage> {
  return resizeToLongSide(await decodeImage(content, 'content image', limits), options.size);
}

/**
 * The style images at options.styleScale × the output size: they depend on the options only, so the jobs of a batch
 * (one content each, the same styles) share them. All are decoded before the first error, in order, is thrown.
 */
export async function prepareStyleImages(
  styles: ReadonlyArray<Buffer | string>,
  options: Pick<StylizeOptions, 'size' | 'styleScale'>,
  limits: DecodeLimits = {},
): Promise<RgbImage[]> {
  const decoded = await Promise.allSettled(styles.map((style, index) => decodeImage(style, styleImageLabel(index, styles.length), limits)));
  const failed = decoded.find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  const images = decoded.map((outcome) => (outcome as PromiseFulfilledResult<RgbImage>).value);
  return Promise.all(images.map((style) => resizeToLongSide(style, styleLongSide(style, options))));
}

/** A job's images from its content and (perhaps shared) styles; the content's error first when both fail. */
export async function withStyleImages(content: Promise<RgbImage>, styles: Promise<readonly RgbImage[]>): Promise<StylizeImages> {
  const [preparedContent, preparedStyles] = await Promise.allSettled([content, styles]);
  if (preparedContent.status === 'rejected') throw preparedContent.reason;
  if (preparedStyles.status === 'rejected') throw preparedStyles.reason;
  return { content: preparedContent.value, styles: preparedStyles.value };
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
