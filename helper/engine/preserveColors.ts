import * as tf from '@tensorflow/tfjs-core';
import type { StylizeOptions } from '../../shared/stylizeOptions.js';
import { colorStatistics, luminance, luminanceStatistics, matchColorStatistics, matchLuminance } from './color.js';
import { luminancePixels, RGB_PIXELS, type PixelParameterization } from './pixelParameterization.js';

export type PreserveColors = StylizeOptions['preserveColors'];

/** A style image as a job uses it: recoloured for the content when the job keeps the content's colours. */
export interface PreparedStyle {
  /** RGB 0–255, [1, H, W, 3]; the caller's. */
  readonly pixels: tf.Tensor4D;
  /**
   * What was done to it, for the keys of cached Gram matrices: empty when nothing was, else the mode and the content
   * statistics it matched (they decide the Grams as much as the style's own pixels do).
   */
  readonly preparation: string;
}

/** How a job keeps the content's colours: what it optimizes, and what it does to each style image first. */
export interface ColorControl {
  readonly pixels: PixelParameterization;
  /** Takes over `style`. */
  prepareStyle(style: tf.Tensor4D): PreparedStyle;
}

/**
 * The colour control of Gatys et al. 2017 for one content image (RGB 0–255 at the output size; it stays the
 * caller's and must outlive the control):
 * - `luminance`: the style image becomes its luminance, matched to the content's mean and deviation, as a grey image;
 *   the optimization runs on the luminance alone (luminancePixels), recombined with the content's chrominance;
 * - `histogram`: the style image is recoloured to the content's RGB mean and covariance; the transfer runs as usual;
 * - `off`: nothing.
 */
export function colorControl(mode: PreserveColors, contentRgb: tf.Tensor4D): ColorControl {
  switch (mode) {
    case 'off':
      return { pixels: RGB_PIXELS, prepareStyle: (style) => ({ pixels: style, preparation: '' }) };
    case 'luminance': {
      const contentY = luminance(contentRgb);
      const target = luminanceStatistics(contentY);
      contentY.dispose();
      return {
        pixels: luminancePixels(contentRgb),
        prepareStyle: (style) => {
          const grey = tf.tidy(() => tf.tile(matchLuminance(luminance(style), target), [1, 1, 1, 3]) as tf.Tensor4D);
          style.dispose();
          return { pixels: grey, preparation: `luminance(${numbers([target.mean, target.deviation])})` };
        },
      };
    }
    case 'histogram': {
      const target = colorStatistics(contentRgb);
      return {
        pixels: RGB_PIXELS,
        prepareStyle: (style) => {
          const recoloured = matchColorStatistics(style, target);
          style.dispose();
          return { pixels: recoloured, preparation: `histogram(${numbers([...target.mean, ...target.covariance.flat()])})` };
        },
      };
    }
  }
}

function numbers(values: readonly number[]): string {
  return values.map((value) => value.toPrecision(6)).join(',');
}
