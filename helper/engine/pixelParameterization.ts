import * as tf from '@tensorflow/tfjs-core';
import { luminance, rgbToYiq, yiqToRgb } from './color.js';
import { resizeImage } from './multiScale.js';
import { fromNetworkInput, networkInputBounds, toNetworkInput } from './networkInput.js';
import type { Bounds } from './optimizers/bounds.js';

/**
 * What the optimizer's variable is, and how it becomes the image the network sees. The loop applies it around the
 * objective, so that the optimizers, their bounds, coarse to fine and the curvature carry-over all work on the
 * variable unchanged. Every method returns a new tensor (the caller's); arguments stay the caller's unless said.
 */
export interface PixelParameterization {
  /** The variable of an RGB image (0–255, [1, H, W, 3]). */
  fromRgb(rgb: tf.Tensor4D): tf.Tensor4D;
  /** The image the network sees for the variable x: in its input space (networkInput.ts). */
  toNetwork(x: tf.Tensor4D): tf.Tensor4D;
  /** The gradient with respect to x, from the gradient with respect to toNetwork(x); takes over `gradient`. */
  gradientToVariable(gradient: tf.Tensor4D): tf.Tensor4D;
  /** The box the variable stays in: what displays as 0–255. */
  bounds(): Bounds;
  /** What the user sees of x: RGB 0–255, at x's size. */
  toRgb(x: tf.Tensor4D): tf.Tensor4D;
}

/** The pixels themselves, in the network's input space. */
export const RGB_PIXELS: PixelParameterization = {
  fromRgb: toNetworkInput,
  toNetwork: (x) => tf.clone(x),
  gradientToVariable: (gradient) => gradient,
  bounds: networkInputBounds,
  toRgb: fromNetworkInput,
};

/**
 * The luminance only (Gatys et al. 2017, colour control): the variable is one channel, Y of YIQ in 0–255; the network
 * sees it as a grey image, Y in all three channels, so the gradient with respect to Y is the sum over the three.
 * What the user sees is Y recombined with the content's chrominance (I and Q) at the same size.
 */
export function luminancePixels(contentRgb: tf.Tensor4D): PixelParameterization {
  return {
    fromRgb: luminance,
    toNetwork: (x) => tf.tidy(() => toNetworkInput(tf.tile(x, [1, 1, 1, 3]))),
    gradientToVariable: (gradient) => {
      const summed = tf.sum(gradient, 3, true) as tf.Tensor4D;
      gradient.dispose();
      return summed;
    },
    bounds: () => ({ lower: tf.scalar(0), upper: tf.scalar(255) }),
    toRgb: (x) =>
      tf.tidy(() => {
        const [, height, width] = x.shape;
        const chrominance = tf.slice(rgbToYiq(resizeImage(contentRgb, { width, height })), [0, 0, 0, 1], [-1, -1, -1, 2]);
        return tf.clipByValue(yiqToRgb(tf.concat([x, chrominance], 3) as tf.Tensor4D), 0, 255) as tf.Tensor4D;
      }),
  };
}
