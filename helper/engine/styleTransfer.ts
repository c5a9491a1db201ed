import * as tf from '@tensorflow/tfjs-core';
import { CONTENT_LAYER, STYLE_LAYERS, type StylizeOptions } from '../../shared/stylizeOptions.js';
import { gramMatrix } from './fastGradients.js';
import {
  disposeLossTarget,
  makeLossTarget,
  relativeSquaredError,
  totalVariationLoss,
  weightedStyleLoss,
  type LossTarget,
} from './losses.js';
import { Adam } from './optimizers/adam.js';
import { Lbfgs } from './optimizers/lbfgs.js';
import type { Evaluation, Optimizer } from './optimizers/objective.js';
import { styleRatioForStrength } from './strength.js';
import { fromNetworkInput, toNetworkInput, type Pooling, type Vgg19Features } from './vgg19.js';
import { imageFromTensor, imageToTensor, type RgbImage } from './rgbImage.js';

/** The Gram matrices of the style image, one per style layer: computed once per style image and size. */
export type StyleGramTargets = ReadonlyMap<string, LossTarget<tf.Tensor2D>>;

export interface ProgressEvent {
  /** 1-based number of the iteration just finished. */
  readonly iteration: number;
  readonly total: number;
  /** L_content and L_style at the current image (unweighted). */
  readonly contentLoss: number;
  readonly styleLoss: number;
  readonly elapsedMs: number;
  /** The current image, optionally scaled down so its long side is at most maxSide. */
  preview(maxSide?: number): RgbImage;
}

export interface StylizeRequest {
  /** The content image, already at the output size. */
  readonly content: RgbImage;
  /** The style image at the scale its textures should have, or its Gram targets (computed with options.pooling). */
  readonly style: RgbImage | StyleGramTargets;
  readonly options: StylizeOptions;
  /** Called after every iteration; the loop awaits it, so it may also yield to other work. */
  readonly onProgress?: (event: ProgressEvent) => void | Promise<void>;
  /** Aborting stops the loop within one iteration; run() then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

export interface StylizeResult {
  readonly image: RgbImage;
  readonly iterations: number;
  readonly contentLoss: number;
  readonly styleLoss: number;
  readonly elapsedMs: number;
}

/**
 * Gatys, Ecker & Bethge (CVPR 2016): optimize the pixels of an image so that its conv4_2 features match the
 * content image's and its Gram matrices on conv1_1 … conv5_1 match the style image's, minimizing
 * α·L_content + β·L_style (+ an optional total-variation term), with α = 1 and β from the style strength.
 */
export class StyleTransfer {
  constructor(private readonly network: Vgg19Features) {}

  /** Kept tensors: dispose them with disposeStyleGramTargets. */
  computeStyleGramTargets(style: RgbImage, pooling: Pooling): StyleGramTargets {
    assertLargeEnough(style, 'style image');
    const grams = tf.tidy(() => {
      const features = this.network.extract(toNetworkInput(imageToTensor(style)), STYLE_LAYERS, pooling);
      return STYLE_LAYERS.map((layer) => gramMatrix(features.get(layer)!, this.network.gradientPath));
    });
    return new Map(STYLE_LAYERS.map((layer, i) => [layer, makeLossTarget(grams[i]!)]));
  }

  async run(request: StylizeRequest): Promise<StylizeResult> {
    const { content, options, onProgress, signal } = request;
    const startedAt = performance.now();
    signal?.throwIfAborted();
    assertLargeEnough(content, 'content image');

    const ownsStyleTargets = !(request.style instanceof Map);
    const styleTargets = ownsStyleTargets
      ? this.computeStyleGramTargets(request.style as RgbImage, options.pooling)
      : (request.style as StyleGramTargets);
    const contentInput = tf.tidy(() => toNetworkInput(imageToTensor(content)));
    const contentTarget = makeLossTarget(
      tf.tidy(() => this.network.extract(contentInput, [CONTENT_LAYER], options.pooling).get(CONTENT_LAYER)!),
    );
    const start = options.init === 'content' ? tf.clone(contentInput) : noiseImage(content, options.seed);
    const styleRatio = styleRatioForStrength(options.strength);
    let latest = { contentLoss: Number.NaN, styleLoss: Number.NaN };

    const objective = async (x: tf.Tensor): Promise<Evaluation> => {
      const terms: tf.Scalar[] = [];
      const { value, grads } = tf.valueAndGrads((image: tf.Tensor) => {
        const input = image as tf.Tensor4D;
        const features = this.network.extract(input, [...STYLE_LAYERS, CONTENT_LAYER], options.pooling);
        const contentLoss = relativeSquaredError(features.get(CONTENT_LAYER)!, contentTarget);
        const styleLoss = weightedStyleLoss(
          STYLE_LAYERS.map((layer) =>
            relativeSquaredError(gramMatrix(features.get(layer)!, this.network.gradientPath), styleTargets.get(layer)!),
          ),
          options.styleLayerWeights,
        );
        terms.push(tf.keep(contentLoss), tf.keep(styleLoss));
        let total = tf.add(contentLoss, tf.mul(styleLoss, styleRatio));
        if (options.tvWeight > 0) total = tf.add(total, tf.mul(totalVariationLoss(input), options.tvWeight));
        return total as tf.Scalar;
      })([x]);
      const lossValues = tf.stack([value, ...terms]);
      const [loss, contentLoss, styleLoss] = await lossValues.data();
      tf.dispose([value, lossValues, ...terms]);
      latest = { contentLoss: contentLoss!, styleLoss: styleLoss! };
      return { loss: loss!, gradient: grads[0]! };
    };

    const optimizer: Optimizer =
      options.optimizer === 'lbfgs'
        ? new Lbfgs(start, objective, {
            historySize: options.lbfgsHistory,
            // The losses are relative, so gradients shrink as pixels are added; real jobs (even at strength 1) stay
            // several orders of magnitude above this, while an already optimal start (strength 0) sits below it.
            gradientTolerance: 1e-5 / start.size,
          })
        : new Adam(start, objective, { learningRate: options.learningRate });
    start.dispose();

    try {
      for (let iteration = 1; iteration <= options.iterations; iteration++) {
        await optimizer.step();
        signal?.throwIfAborted();
        if (!Number.isFinite(latest.contentLoss) || !Number.isFinite(latest.styleLoss)) {
          throw new Error(`the optimization diverged at iteration ${iteration} (loss is not finite)`);
        }
        await onProgress?.({
          iteration,
          total: options.iterations,
          ...latest,
          elapsedMs: performance.now() - startedAt,
          preview: (maxSide = Number.POSITIVE_INFINITY) => renderImage(optimizer.x as tf.Tensor4D, maxSide),
        });
        signal?.throwIfAborted();
      }
      return {
        image: renderImage(optimizer.x as tf.Tensor4D, Number.POSITIVE_INFINITY),
        iterations: options.iterations,
        ...latest,
        elapsedMs: performance.now() - startedAt,
      };
    } finally {
      optimizer.dispose();
      contentInput.dispose();
      disposeLossTarget(contentTarget);
      if (ownsStyleTargets) disposeStyleGramTargets(styleTargets);
    }
  }
}

/** conv5_1 sits behind four 2×2 poolings: a side shorter than 16 pixels leaves it no position at all. */
export const MIN_IMAGE_SIDE = 16;

function assertLargeEnough(image: RgbImage, label: string): void {
  if (Math.min(image.width, image.height) < MIN_IMAGE_SIDE) {
    throw new Error(
      `${label} is too small for VGG-19 at this size: ${image.width}×${image.height}, both sides must be at least ` +
        `${MIN_IMAGE_SIDE} pixels (use a larger size or a less elongated image)`,
    );
  }
}

export function disposeStyleGramTargets(targets: StyleGramTargets): void {
  for (const target of targets.values()) disposeLossTarget(target);
}

/** Uniform noise over the whole pixel range, repeatable through the seed. */
function noiseImage(like: RgbImage, seed: number): tf.Tensor4D {
  return tf.tidy(() =>
    toNetworkInput(tf.randomUniform([1, like.height, like.width, 3], 0, 255, 'float32', seed) as tf.Tensor4D),
  );
}

function renderImage(x: tf.Tensor4D, maxSide: number): RgbImage {
  const rgb = tf.tidy(() => {
    const [, height, width] = x.shape;
    const scale = Math.min(1, maxSide / Math.max(height, width));
    const pixels = fromNetworkInput(x);
    if (scale >= 1) return pixels;
    const size: [number, number] = [Math.max(1, Math.round(height * scale)), Math.max(1, Math.round(width * scale))];
    return tf.image.resizeBilinear(pixels, size, true);
  });
  const image = imageFromTensor(rgb);
  rgb.dispose();
  return image;
}
