import * as tf from '@tensorflow/tfjs-core';
import type { GatysNetwork, Pooling, StyleGrams } from './gatysNetwork.js';
import { resizeImage, type ImageSize } from './multiScale.js';
import { toNetworkInput } from './networkInput.js';
import type { ColorControl } from './preserveColors.js';
import { imageToTensor, type RgbImage } from './rgbImage.js';
import { MIN_IMAGE_SIDE } from './vggLayers.js';

/** One of a job's style images, at the scale its textures should have in the output, and its weight in the blend. */
export interface WeightedStyle {
  readonly image: RgbImage;
  /** Relative to the other styles' weights; 0 leaves the image out. */
  readonly weight: number;
}

/** A job's only style image. */
export function oneStyle(image: RgbImage): readonly WeightedStyle[] {
  return [{ image, weight: 1 }];
}

/** How messages name a job's style image: "style image", or "style image 2" of several. */
export function styleImageLabel(index: number, count: number): string {
  return count > 1 ? `style image ${index + 1}` : 'style image';
}

/**
 * Reuses style images' Gram matrices across jobs: the loop asks once per scale and style image, with the style's
 * index in the request and a key naming the scaled image's size, the pooling and any recolouring ("256x203:avg");
 * it returns cached Grams or stores and returns compute()'s. The cache owns what it returns: the loop never disposes
 * those. A cache shared by jobs with other style images adds its own key for the image at that index.
 */
export type StyleTargetCache = (style: number, key: string, compute: () => Promise<StyleGrams>) => Promise<StyleGrams>;

/** A scale's style targets; release() frees what the job owns of them. */
export interface ScaleStyleTargets {
  readonly grams: StyleGrams;
  release(): void;
}

interface PreparedStyleImage {
  /** The style's index in the request, for the cache. */
  readonly index: number;
  /** RGB 0–255, recoloured as the job's colour control wants. */
  readonly pixels: tf.Tensor4D;
  readonly preparation: string;
  /** The weight over the sum of all weights. */
  readonly share: number;
}

/**
 * A job's style targets at each scale: each style image's Gram matrices (from the cache when there is one), blended
 * as jcjohnson/neural-style blends several styles, Σ wₖ·Gₖ / Σ wₖ per layer. Blending the Grams of each scale anew
 * keeps the cache keyed per style image, so another blend of the same images recomputes nothing.
 */
export class StyleTargets {
  private constructor(
    private readonly network: GatysNetwork,
    private readonly styles: readonly PreparedStyleImage[],
    private readonly outputLongSide: number,
    private readonly pooling: Pooling,
    private readonly cache: StyleTargetCache | undefined,
  ) {}

  /** Prepares the styles with a weight above 0 (the colour control recolours each); dispose() frees them. */
  static prepare(
    network: GatysNetwork,
    styles: readonly WeightedStyle[],
    colors: ColorControl,
    job: { readonly outputLongSide: number; readonly pooling: Pooling; readonly cache?: StyleTargetCache },
  ): StyleTargets {
    const weightSum = styles.reduce((sum, style) => sum + style.weight, 0);
    const prepared: PreparedStyleImage[] = [];
    try {
      for (const [index, style] of styles.entries()) {
        if (!(style.weight > 0)) continue;
        const { pixels, preparation } = colors.prepareStyle(imageToTensor(style.image));
        prepared.push({ index, pixels, preparation, share: style.weight / weightSum });
      }
    } catch (error) {
      tf.dispose(prepared.map((style) => style.pixels));
      throw error;
    }
    return new StyleTargets(network, prepared, job.outputLongSide, job.pooling, job.cache);
  }

  /** The targets at a scale: the blend of every style's Grams at that scale. */
  async at(scale: ImageSize): Promise<ScaleStyleTargets> {
    const perStyle: Array<{ grams: StyleGrams; owned: boolean }> = [];
    try {
      for (const style of this.styles) perStyle.push(await this.gramsOf(style, scale));
    } catch (error) {
      for (const { grams, owned } of perStyle) if (owned) tf.dispose([...grams]);
      throw error;
    }
    if (perStyle.length === 1) {
      const [{ grams, owned }] = perStyle as [{ grams: StyleGrams; owned: boolean }];
      return {
        grams,
        release: () => {
          if (owned) tf.dispose([...grams]);
        },
      };
    }
    const blended = tf.tidy(() =>
      perStyle[0]!.grams.map((_, layer) =>
        tf.addN(perStyle.map(({ grams }, k) => tf.mul(grams[layer]!, this.styles[k]!.share))) as tf.Tensor2D,
      ),
    );
    for (const { grams, owned } of perStyle) if (owned) tf.dispose([...grams]);
    return { grams: blended, release: () => tf.dispose(blended) };
  }

  dispose(): void {
    tf.dispose(this.styles.map((style) => style.pixels));
  }

  /** One style's Grams at a scale, and whether the job owns (and must dispose) them. */
  private async gramsOf(style: PreparedStyleImage, scale: ImageSize): Promise<{ grams: StyleGrams; owned: boolean }> {
    // The style image is scaled by the same factor as the content: its strokes keep their size relative to the output.
    const factor = Math.max(scale.width, scale.height) / this.outputLongSide;
    const [, height, width] = style.pixels.shape;
    const size = { width: scaledSide(width, factor), height: scaledSide(height, factor) };
    const compute = async (): Promise<StyleGrams> => {
      const scaled = tf.tidy(() => toNetworkInput(resizeImage(style.pixels, size)));
      try {
        return await this.network.styleGrams(scaled, this.pooling);
      } finally {
        scaled.dispose();
      }
    };
    if (!this.cache) return { grams: await compute(), owned: true };
    const key = `${size.width}x${size.height}:${this.pooling}${style.preparation ? `:${style.preparation}` : ''}`;
    return { grams: await this.cache(style.index, key, compute), owned: false };
  }
}

/** A side scaled by `factor`, not below the network's useful minimum (unless the image is already smaller). */
function scaledSide(side: number, factor: number): number {
  return factor >= 1 ? side : Math.max(Math.min(side, MIN_IMAGE_SIDE), Math.round(side * factor));
}
