import * as tf from '@tensorflow/tfjs-core';
import { NO_POSITIVE_STYLE_WEIGHT, type StylizeOptions } from '../../shared/stylizeOptions.js';
import type { ScaleProgress, StylizeProgress } from '../../shared/stylizeProgress.js';
import { assertObjectiveWeightsFinite, type GatysNetwork, type ObjectiveLosses, type ScaleObjective } from './gatysNetwork.js';
import { curvatureAtScale, resizeImage, scaleSchedule } from './multiScale.js';
import { initialImage, refinedStart } from './scaleStart.js';
import { Adam } from './optimizers/adam.js';
import { disposeCurvatureSteps, Lbfgs, type CurvatureStep } from './optimizers/lbfgs.js';
import type { Evaluation, Optimizer } from './optimizers/objective.js';
import type { PixelParameterization } from './pixelParameterization.js';
import { colorControl } from './preserveColors.js';
import { imageFromTensor, imageToTensor, type RgbImage } from './rgbImage.js';
import { styleRatioForStrength } from './strength.js';
import {
  StyleTargets,
  styleImageLabel,
  type ScaleStyleTargets,
  type StyleTargetCache,
  type WeightedStyle,
} from './styleTargets.js';
import { TimeLeft } from './timeLeft.js';
import { MIN_IMAGE_SIDE } from './vggLayers.js';

/** After every iteration: the progress record, and the current image on request. */
export interface ProgressEvent {
  readonly progress: StylizeProgress;
  /**
   * The current image at the current scale's resolution (smaller than the output during the coarse scales of a
   * multi-scale job), optionally scaled down so its long side is at most maxSide; never scaled up.
   */
  preview(maxSide?: number): RgbImage;
}

export interface StylizeRequest {
  /** The content image, already at the output size. */
  readonly content: RgbImage;
  /**
   * One or more style images, each at the scale its textures should have in the output (the brush size), with its
   * weight: the style targets are the weighted blend of their Gram matrices.
   */
  readonly styles: readonly WeightedStyle[];
  /** Optional cache of the style images' Gram matrices, asked once per scale and style (they differ between scales). */
  readonly styleTargetCache?: StyleTargetCache;
  readonly options: StylizeOptions;
  /**
   * Where the optimization starts instead of options.init's content or noise: an image of the content's size, such
   * as the result of the same job at a nearby strength (see strengthRow.ts).
   */
  readonly start?: RgbImage;
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

const NO_LOSSES: ObjectiveLosses = { contentLoss: Number.NaN, styleLoss: Number.NaN, styleLayerLosses: [] };

/** What every scale of one job shares. */
interface Job {
  readonly request: StylizeRequest;
  readonly options: StylizeOptions;
  readonly startedAt: number;
  readonly total: number;
  readonly styleRatio: number;
  readonly styleTargets: StyleTargets;
  /** What the optimizer's variable is: the pixels, or the luminance when the content's colours are kept. */
  readonly pixels: PixelParameterization;
  readonly timeLeft: TimeLeft;
}

/**
 * Gatys, Ecker & Bethge (CVPR 2016): optimize the pixels of an image so that its conv4_2 features match the
 * content image's and its Gram matrices on conv1_1 … conv5_1 match the style image's, minimizing
 * α·L_content + β·L_style (+ an optional total-variation term), with α = 1 and β from the style strength.
 * Large jobs run coarse to fine (see multiScale.ts): each scale recomputes its targets from the scaled images and
 * starts from the previous scale's result, upsampled. Several style images blend their Gram matrices
 * (styleTargets.ts); keeping the content's colours recolours the style images or optimizes the luminance alone
 * (preserveColors.ts). This loop is the same for every backend: only the network (gatysNetwork.ts) differs.
 */
export class StyleTransfer {
  constructor(private readonly network: GatysNetwork) {}

  async run(request: StylizeRequest): Promise<StylizeResult> {
    const { content, styles, options, signal } = request;
    const startedAt = performance.now();
    signal?.throwIfAborted();
    assertLargeEnough(content, 'content image');
    for (const [index, style] of styles.entries()) {
      const label = styleImageLabel(index, styles.length);
      if (!Number.isFinite(style.weight) || style.weight < 0) {
        throw new Error(`${label}: its weight must be a finite number ≥ 0, got ${style.weight}`);
      }
      assertLargeEnough(style.image, label);
    }
    if (!styles.some((style) => style.weight > 0)) {
      throw new Error(styles.length === 0 ? 'a style transfer needs a style image' : NO_POSITIVE_STYLE_WEIGHT);
    }
    const { start } = request;
    if (start && (start.width !== content.width || start.height !== content.height)) {
      throw new Error(
        `the start image is ${start.width}×${start.height}, the content ${content.width}×${content.height}: ` +
          'they must be of one size',
      );
    }
    const pixelsOf = (style: WeightedStyle) => style.image.width * style.image.height;
    this.network.assertFits({
      content,
      style: styles.reduce((largest, style) => (pixelsOf(style) > pixelsOf(largest) ? style : largest)).image,
      historySize: options.optimizer === 'lbfgs' ? options.lbfgsHistory : 0,
    });
    const styleRatio = styleRatioForStrength(options.strength);
    assertObjectiveWeightsFinite({ styleRatio, styleLayerWeights: options.styleLayerWeights, tvWeight: options.tvWeight });
    const schedule = scaleSchedule(content, options.iterations, options.multiScale);
    const contentPixels = imageToTensor(content);
    let styleTargets: StyleTargets | undefined;
    let image: tf.Tensor4D | undefined;
    // The previous scale's L-BFGS steps, at that scale's size.
    let coarseSteps: CurvatureStep[] = [];
    let latest = NO_LOSSES;
    try {
      const colors = colorControl(options.preserveColors, contentPixels);
      const outputLongSide = Math.max(content.width, content.height);
      styleTargets = StyleTargets.prepare(this.network, styles, colors, {
        outputLongSide,
        pooling: options.pooling,
        cache: request.styleTargetCache,
      });
      const job: Job = {
        request,
        options,
        startedAt,
        total: options.iterations,
        styleRatio,
        styleTargets,
        pixels: colors.pixels,
        timeLeft: new TimeLeft(schedule),
      };
      let done = 0;
      for (const [index, scale] of schedule.entries()) {
        // The content at this scale as the optimizer's variable: the scale's start and (through the network) its
        // content target.
        const contentVariable = tf.tidy(() => job.pixels.fromRgb(resizeImage(contentPixels, scale)));
        try {
          const start = image
            ? refinedStart(job.options.init, image, contentVariable)
            : initialImage(job.pixels, job.request.start, job.options, contentVariable);
          image?.dispose();
          image = undefined;
          const carriedSteps = curvatureAtScale(coarseSteps, scale);
          disposeCurvatureSteps(coarseSteps.splice(0));
          const progress: ScaleProgress = { index, count: schedule.length, ...scale };
          const outcome = await this.optimizeAtScale(job, progress, start, carriedSteps, contentVariable, done);
          image = outcome.image;
          coarseSteps = outcome.steps;
          latest = outcome.latest;
        } finally {
          contentVariable.dispose();
        }
        done += scale.iterations;
      }
      return {
        image: renderImage(job.pixels, image!, Number.POSITIVE_INFINITY),
        iterations: options.iterations,
        contentLoss: latest.contentLoss,
        styleLoss: latest.styleLoss,
        elapsedMs: performance.now() - startedAt,
      };
    } finally {
      image?.dispose();
      disposeCurvatureSteps(coarseSteps);
      styleTargets?.dispose();
      contentPixels.dispose();
    }
  }

  /**
   * Runs one scale's iterations from `start` against the targets of `contentVariable` (the content at this scale as
   * the optimizer's variable, still the caller's) and of the styles. `start` and `carriedSteps` (the coarser scale's
   * L-BFGS steps, mapped to this scale) are taken over. Resolves to the scale's result, its own L-BFGS steps (both
   * owned by the caller) and the losses at its last accepted point; everything else it made is disposed, also when it
   * throws.
   */
  private async optimizeAtScale(
    job: Job,
    scale: ScaleProgress,
    start: tf.Tensor4D,
    carriedSteps: CurvatureStep[],
    contentVariable: tf.Tensor4D,
    iterationsBefore: number,
  ): Promise<{ image: tf.Tensor4D; steps: CurvatureStep[]; latest: ObjectiveLosses }> {
    const { options, request } = job;
    const { onProgress, signal } = request;
    // Made inside the try below, so that whatever exists is disposed when something throws.
    let styleTargets: ScaleStyleTargets | undefined;
    let contentTarget: tf.Tensor4D | undefined;
    let objective: ScaleObjective | undefined;
    let latest = NO_LOSSES;
    const weights = { styleRatio: job.styleRatio, styleLayerWeights: options.styleLayerWeights, tvWeight: options.tvWeight };
    const { pixels } = job;
    // The optimizers keep the pixels displayable. The user gets them clamped to 0–255 anyway; optimizing beyond that
    // optimizes an image nobody sees (clamping unbounded results raised their Gram distances by 15–25%).
    const pixelBounds = pixels.bounds();

    // The objective of the variable: the network's objective at the image the variable stands for.
    const evaluate = async (x: tf.Tensor): Promise<Evaluation<ObjectiveLosses>> => {
      const image = pixels.toNetwork(x as tf.Tensor4D);
      try {
        const { loss, gradient, contentLoss, styleLoss, styleLayerLosses } = await objective!.evaluate(image);
        return { loss, gradient: pixels.gradientToVariable(gradient), details: { contentLoss, styleLoss, styleLayerLosses } };
      } finally {
        image.dispose();
      }
    };

    const optimizer: Optimizer<ObjectiveLosses> =
      options.optimizer === 'lbfgs'
        ? new Lbfgs(
            start,
            evaluate,
            {
              historySize: options.lbfgsHistory,
              // The losses are relative, so gradients shrink as pixels are added; real jobs (even at strength 1) stay
              // several orders of magnitude above this, while an already optimal start (strength 0) sits below it.
              gradientTolerance: 1e-5 / start.size,
              bounds: pixelBounds,
            },
            carriedSteps,
          )
        : new Adam(start, evaluate, { learningRate: options.learningRate, bounds: pixelBounds });
    if (!(optimizer instanceof Lbfgs)) disposeCurvatureSteps(carriedSteps);
    start.dispose();

    try {
      let iterationStartedAt = performance.now();
      styleTargets = await job.styleTargets.at(scale);
      const contentImage = pixels.toNetwork(contentVariable);
      try {
        contentTarget = await this.network.contentFeatures(contentImage, options.pooling);
      } finally {
        contentImage.dispose();
      }
      objective = this.network.objective({ content: contentTarget, styleGrams: styleTargets.grams }, weights, options.pooling);
      for (let step = 1; step <= scale.iterations; step++) {
        const iteration = iterationsBefore + step;
        const accepted = await optimizer.step();
        latest = accepted.details;
        signal?.throwIfAborted();
        // The total too: an overflowing total-variation term shows in neither the content nor the style loss.
        if (![accepted.loss, latest.contentLoss, latest.styleLoss].every(Number.isFinite)) {
          throw new Error(`the optimization diverged at iteration ${iteration} (loss is not finite)`);
        }
        const now = performance.now();
        job.timeLeft.record(scale.index, now - iterationStartedAt);
        iterationStartedAt = now;
        await onProgress?.({
          progress: {
            iteration,
            total: job.total,
            contentLoss: latest.contentLoss,
            styleLoss: latest.styleLoss,
            styleLayerLosses: [...latest.styleLayerLosses],
            scale,
            elapsedMs: now - job.startedAt,
            etaMs: job.timeLeft.estimateMs(scale.index),
          },
          preview: (maxSide = Number.POSITIVE_INFINITY) => renderImage(pixels, optimizer.x as tf.Tensor4D, maxSide),
        });
        signal?.throwIfAborted();
        // Time spent in the caller's onProgress counts against the next iteration, as it does for the user.
      }
      const steps = optimizer instanceof Lbfgs ? optimizer.releaseHistory() : [];
      return { image: tf.clone(optimizer.x as tf.Tensor4D), steps, latest };
    } finally {
      optimizer.dispose();
      objective?.dispose();
      tf.dispose([pixelBounds.lower, pixelBounds.upper]);
      contentTarget?.dispose();
      styleTargets?.release();
    }
  }
}

function assertLargeEnough(image: RgbImage, label: string): void {
  if (Math.min(image.width, image.height) < MIN_IMAGE_SIDE) {
    throw new Error(
      `${label} is too small for VGG-19 at this size: ${image.width}×${image.height}, both sides must be at least ` +
        `${MIN_IMAGE_SIDE} pixels (use a larger size or a less elongated image)`,
    );
  }
}

/** What the user sees of the variable x, scaled down so that its long side is at most maxSide. */
function renderImage(parameterization: PixelParameterization, x: tf.Tensor4D, maxSide: number): RgbImage {
  const rgb = tf.tidy(() => {
    const [, height, width] = x.shape;
    const scale = Math.min(1, maxSide / Math.max(height, width));
    const pixels = parameterization.toRgb(x);
    if (scale >= 1) return pixels;
    const size: [number, number] = [Math.max(1, Math.round(height * scale)), Math.max(1, Math.round(width * scale))];
    return tf.image.resizeBilinear(pixels, size, true);
  });
  const image = imageFromTensor(rgb);
  rgb.dispose();
  return image;
}
