import * as tf from '@tensorflow/tfjs-core';
import { MAX_SIZE, MULTI_SCALE_AUTO_SIZE, type StylizeOptions } from '../../shared/stylizeOptions.js';
import type { CurvatureStep } from './optimizers/lbfgs.js';
import { MIN_IMAGE_SIDE } from './vggLayers.js';

/**
 * Coarse-to-fine optimization (Gatys et al., "Controlling Perceptual Factors in Neural Style Transfer", CVPR 2017;
 * crowsonkb/style-transfer-pytorch): the image is first stylized at a low resolution, where a step is cheap and the
 * large structures form, then upsampled and refined at twice the size, up to the requested one. The style is
 * largely in place when the last scale starts, so it needs fewer of the expensive full-size iterations.
 */

export type MultiScaleMode = StylizeOptions['multiScale'];

/** The long side of the first scale: a step there costs ~1/16 of one at 512 px, so previews come within seconds. */
export const COARSEST_LONG_SIDE = 128;
/** The most scales a job can have: the largest output's long side halved down to COARSEST_LONG_SIDE. */
export const MAX_SCALES = Math.floor(Math.log2(MAX_SIZE / COARSEST_LONG_SIDE)) + 1;
/**
 * Share of the iterations spent at the requested size; the coarser scales share the rest, the coarsest most. Half:
 * the coarse scales bring the style within a few full-size iterations, but the conv4_2 distance to the content only
 * comes down at full size, about as fast per iteration as in single-scale optimization (README, time to quality).
 */
export const FINAL_SCALE_SHARE = 0.5;
/**
 * Upsampling blurs away the finest texture, so every finer scale first climbs back (at 512 px the Gram distance
 * jumped from 0.14 to 0.45 and took ~12 iterations to return): the last scale gets at least this many iterations,
 * or half of a short job's.
 */
export const MIN_FINAL_ITERATIONS = 20;

export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

export interface Scale extends ImageSize {
  readonly iterations: number;
}

/**
 * The scales of a job, coarsest first; the last one is the output size. Each scale has twice the long side of the
 * previous one (the first may be smaller than COARSEST_LONG_SIDE only when `on` forces two scales on a small image).
 * The iterations over all scales sum to `iterations`; every scale gets at least one, so a job with fewer iterations
 * than scales drops its coarsest ones.
 */
export function scaleSchedule(output: ImageSize, iterations: number, mode: MultiScaleMode): Scale[] {
  const longSide = Math.max(output.width, output.height);
  let halvings = 0;
  if (mode === 'on' || (mode === 'auto' && longSide >= MULTI_SCALE_AUTO_SIZE)) {
    halvings = Math.max(0, Math.floor(Math.log2(longSide / COARSEST_LONG_SIDE)));
    if (mode === 'on') halvings = Math.max(halvings, 1);
    // Never below the smallest image the network (and the options) accept.
    while (halvings > 0 && Math.min(output.width, output.height) / 2 ** halvings < MIN_IMAGE_SIDE) halvings--;
  }
  const count = Math.min(halvings + 1, iterations);
  if (count <= 1) return [{ ...output, iterations }];

  const share = Math.round(iterations * FINAL_SCALE_SHARE);
  const floor = Math.min(MIN_FINAL_ITERATIONS, Math.round(iterations / 2));
  const final = Math.min(Math.max(1, share, floor), iterations - (count - 1));
  const coarse = splitFavouringCoarse(iterations - final, count - 1);
  return Array.from({ length: count }, (_, index) => {
    const factor = 2 ** (count - 1 - index);
    const isLast = index === count - 1;
    return {
      width: isLast ? output.width : Math.max(1, Math.round(output.width / factor)),
      height: isLast ? output.height : Math.max(1, Math.round(output.height / factor)),
      iterations: isLast ? final : coarse[index]!,
    };
  });
}

/**
 * `total` iterations over `parts` coarse scales, coarsest first, each getting twice the share of the next finer one:
 * a step there costs a quarter as much, and the large structures that form there are what single-scale optimization
 * is slowest at. The rounding remainder goes to the coarsest; every scale gets at least 1 (total ≥ parts).
 */
function splitFavouringCoarse(total: number, parts: number): number[] {
  const weightSum = 2 ** parts - 1;
  const shares = Array.from({ length: parts }, (_, i) => Math.max(1, Math.floor((total * 2 ** (parts - 1 - i)) / weightSum)));
  shares[0]! += total - shares.reduce((sum, share) => sum + share, 0);
  return shares;
}

/**
 * Resizes a [1, H, W, C] image. Downscaling first averages whole blocks of pixels (a box filter: bilinear
 * interpolation alone would alias fine texture, which is exactly what the Gram matrices measure), then interpolates
 * the small remainder; upscaling is bilinear.
 */
export function resizeImage(image: tf.Tensor4D, size: ImageSize): tf.Tensor4D {
  return tf.tidy(() => {
    const [, height, width] = image.shape;
    if (height === size.height && width === size.width) return tf.clone(image);
    const block = Math.floor(Math.min(height / size.height, width / size.width));
    const averaged = block >= 2 ? tf.avgPool(image, block, block, 'valid') : image;
    if (averaged.shape[1] === size.height && averaged.shape[2] === size.width) return averaged;
    return tf.image.resizeBilinear(averaged, [size.height, size.width], false, true);
  });
}

/**
 * A coarser scale's L-BFGS steps as steps at `size` (new tensors; the caller keeps the old). The coarse objective is
 * close to the fine one of the downsampled image, f(x) ≈ f_c(Dx), so a step s maps to its upsampled image and a
 * gradient difference y to Dᵀy: upsampled and divided by the pixel ratio. The last scale then starts with the
 * curvature of the large structures the coarse scales learned, instead of probing with a short steepest-descent step.
 */
export function curvatureAtScale(steps: readonly CurvatureStep[], size: ImageSize): CurvatureStep[] {
  return steps.map(({ s, y }) =>
    tf.tidy(() => {
      const [, height, width] = s.shape;
      const pixelRatio = (size.width * size.height) / (width! * height!);
      return {
        s: resizeImage(s as tf.Tensor4D, size),
        y: tf.div(resizeImage(y as tf.Tensor4D, size), pixelRatio),
      };
    }),
  );
}
