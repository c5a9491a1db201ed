/**
 * Where each scale of a job starts: the first from the request's start image, the content or noise; a finer one
 * from the coarser result.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { StylizeOptions } from '../../shared/stylizeOptions.js';
import { resizeImage, type ImageSize } from './multiScale.js';
import type { PixelParameterization } from './pixelParameterization.js';
import { imageToTensor, type RgbImage } from './rgbImage.js';

/**
 * The first scale's start: the request's start image, or the content, or seeded noise, as the optimizer's variable.
 * Owned by the caller.
 */
export function initialImage(
  pixels: PixelParameterization,
  start: RgbImage | undefined,
  options: Pick<StylizeOptions, 'init' | 'seed'>,
  contentVariable: tf.Tensor4D,
): tf.Tensor4D {
  const [, height, width] = contentVariable.shape;
  if (start) return tf.tidy(() => pixels.fromRgb(resizeImage(imageToTensor(start), { width, height })));
  if (options.init === 'noise') return noiseImage(pixels, { width, height }, options.seed);
  return tf.clone(contentVariable);
}

/**
 * A finer scale's start: the coarser result upsampled, plus (for jobs that start from the content) the content's
 * own detail at this scale, which downsampling had removed. Upsampling alone blurs, and the blur is far from both
 * the content's conv4_2 features and the style's fine Gram matrices: measured at 256 px, the fine scale then
 * needed more of its expensive iterations to get back to the content.
 */
export function refinedStart(
  init: StylizeOptions['init'],
  coarse: tf.Tensor4D,
  contentVariable: tf.Tensor4D,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [, scaleHeight, scaleWidth] = contentVariable.shape;
    const scale = { width: scaleWidth, height: scaleHeight };
    const upsampled = resizeImage(coarse, scale);
    if (init !== 'content') return upsampled;
    const [, height, width] = coarse.shape;
    const contentDetail = tf.sub(contentVariable, resizeImage(resizeImage(contentVariable, { width, height }), scale));
    return tf.add(upsampled, contentDetail) as tf.Tensor4D;
  });
}

/** Uniform noise over the whole pixel range, as the optimizer's variable; repeatable through the seed. */
function noiseImage(pixels: PixelParameterization, size: ImageSize, seed: number): tf.Tensor4D {
  return tf.tidy(() =>
    pixels.fromRgb(tf.randomUniform([1, size.height, size.width, 3], 0, 255, 'float32', seed) as tf.Tensor4D),
  );
}
