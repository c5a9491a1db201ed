import * as tf from '@tensorflow/tfjs-core';
import type { StylizeOptions } from '../../shared/stylizeOptions.js';
import type { ScaleProgress, StylizeProgress } from '../../shared/stylizeProgress.js';
import {
  assertObjectiveWeightsFinite,
  type GatysNetwork,
  type ObjectiveLosses,
  type ScaleObjective,
  type StyleGrams,
} from './gatysNetwork.js';
import { curvatureAtScale, resizeImage, scaleSchedule, type ImageSize } from './multiScale.js';
import { fromNetworkInput, networkInputBounds, toNetworkInput } from './networkInput.js';
import { Adam } from './optimizers/adam.js';
import { disposeCurvatureSteps, Lbfgs, type CurvatureStep } from './optimizers/lbfgs.js';
import type { Evaluation, Optimizer } from './optimizers/objective.js';
import { imageFromTensor, imageToTensor, type RgbImage } from './rgbImage.js';
import { styleRatioForStrength } from './strength.js';
import { TimeLeft } from './timeLeft.js';
import { MIN_IMAGE_SIDE } from './vggLayers.js';

/**
 * Reuses the style image's Gram matrices across jobs: run() calls it once per scale with a key naming the scaled
 * style image's size and the pooling ("256x203:avg"); it returns cached Grams or stores and returns compute()'s. The
 * cache owns what it returns: run() never disposes those. Callers with several style images add their own image key
 * in front.
 */
export type StyleTargetCache = (key: string, compute: () => Promise<StyleGrams>) => Promise<StyleGrams>;

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
  /** The style image at the scale its textures should have in the output. */
  readonly style: RgbImage;
  /** Optional cache of the style image's Gram matrices, asked once per scale (they differ between scales). */
  readonly styleTargetCache?: StyleTargetCache;
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

const NO_LOSSES: ObjectiveLosses = { contentLoss: Number.NaN, styleLoss: Number.NaN, styleLayerLosses: [] };

/** What every scale of one job shares. */
interface Job {
  readonly request: StylizeRequest;
  readonly options: StylizeOptions;
  readonly startedAt: number;
  readonly total: number;
  readonly styleRatio: number;
  /** The style image, RGB 0–255. */
  readonly stylePixels: tf.Tensor4D;
  readonly outputLongSide: number;
  readonly timeLeft: TimeLeft;
}

/**
 * Gatys, Ecker & Bethge (CVPR 2016): optimize the pixels of an image so that its conv4_2 features match the
 * content image's and its Gram matrices on conv1_1 … conv5_1 match the style image's, minimizing
 * α·L_content + β·L_style (+ an optional total-variation term), with α = 1 and β from the style strength.
 * Large jobs run coarse to fine (see multiScale.ts): each scale recomputes its targets from the scaled images and
 * starts from the previous scale's result, upsampled. This loop is the same for every backend: only the network
 * (gatysNetwork.ts) differs.
 */
export class StyleTransfer {
  constructor(private readonly network: GatysNetwork) {}

  async run(request: StylizeRequest): Promise<StylizeResult> {
    const { content, options, signal } = request;
    const startedAt = performance.now();
    signal?.throwIfAborted();
    assertLargeEnough(content, 'content image');
    assertLargeEnough(request.style, 'style image');
    this.network.assertFits({
      content,
      style: request.style,
      historySize: options.optimizer === 'lbfgs' ? options.lbfgsHistory : 0,
    });
    const styleRatio = styleRatioForStrength(options.strength);
    assertObjectiveWeightsFinite({ styleRatio, styleLayerWeights: options.styleLayerWeights, tvWeight: options.tvWeight });
    const schedule = scaleSchedule(content, options.iterations, options.multiScale);
    const contentPixels = imageToTensor(content);
    const stylePixels = imageToTensor(request.style);
    const job: Job = {
      request,
      options,
      startedAt,
      total: options.iterations,
      styleRatio,
      stylePixels,
      outputLongSide: Math.max(content.width, content.height),
      timeLeft: new TimeLeft(schedule),
    };
    let image: tf.Tensor4D | undefined;
    // The previous scale's L-BFGS steps, at that scale's size.
    let coarseSteps: CurvatureStep[] = [];
    let latest = NO_LOSSES;
    try {
      let done = 0;
      for (const [index, scale] of schedule.entries()) {
        // The content at this scale, in the network's input space: the scale's start and its content target.
        const contentInput = tf.tidy(() => toNetworkInput(resizeImage(contentPixels, scale)));
        try {
          const start = image ? this.refinedStart(job, image, contentInput) : this.initialImage(job, contentInput);
          image?.dispose();
          image = undefined;
          const carriedSteps = curvatureAtScale(coarseSteps, scale);
          disposeCurvatureSteps(coarseSteps.splice(0));
          const progress: ScaleProgress = { index, count: schedule.length, ...scale };
          const outcome = await this.optimizeAtScale(job, progress, start, carriedSteps, contentInput, done);
          image = outcome.image;
          coarseSteps = outcome.steps;
          latest = outcome.latest;
        } finally {
          contentInput.dispose();
        }
        done += scale.iterations;
      }
      return {
        image: renderImage(image!, Number.POSITIVE_INFINITY),
        iterations: options.iterations,
        contentLoss: latest.contentLoss,
        styleLoss: latest.styleLoss,
        elapsedMs: performance.now() - startedAt,
      };
    } finally {
      image?.dispose();
      disposeCurvatureSteps(coarseSteps);
      contentPixels.dispose();
      stylePixels.dispose();
    }
  }

  /** The first scale's start: the content or seeded noise, in the network's input space. Owned by the caller. */
  private initialImage(job: Job, contentInput: tf.Tensor4D): tf.Tensor4D {
    if (job.options.init === 'noise') {
      const [, height, width] = contentInput.shape;
      return noiseImage({ width, height }, job.options.seed);
    }
    return tf.clone(contentInput);
  }

  /**
   * A finer scale's start: the coarser result upsampled, plus (for jobs that start from the content) the content's
   * own detail at this scale, which downsampling had removed. Upsampling alone blurs, and the blur is far from both
   * the content's conv4_2 features and the style's fine Gram matrices: measured at 256 px, the fine scale then
   * needed more of its expensive iterations to get back to the content.
   */
  private refinedStart(job: Job, coarse: tf.Tensor4D, contentInput: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [, scaleHeight, scaleWidth] = contentInput.shape;
      const scale = { width: scaleWidth, height: scaleHeight };
      const upsampled = resizeImage(coarse, scale);
      if (job.options.init !== 'content') return upsampled;
      const [, height, width] = coarse.shape;
      const contentDetail = tf.sub(contentInput, resizeImage(resizeImage(contentInput, { width, height }), scale));
      return tf.add(upsampled, contentDetail) as tf.Tensor4D;
    });
  }

  /**
   * Runs one scale's iterations from `start` against the targets of `contentInput` (the content at this scale, still
   * the caller's) and of the style. `start` and `carriedSteps` (the coarser scale's L-BFGS steps, mapped to this
   * scale) are taken over. Resolves to the scale's result, its own L-BFGS steps (both owned by the caller) and the
   * losses at its last accepted point; everything else it made is disposed, also when it throws.
   */
  private async optimizeAtScale(
    job: Job,
    scale: ScaleProgress,
    start: tf.Tensor4D,
    carriedSteps: CurvatureStep[],
    contentInput: tf.Tensor4D,
    iterationsBefore: number,
  ): Promise<{ image: tf.Tensor4D; steps: CurvatureStep[]; latest: ObjectiveLosses }> {
    const { options, request } = job;
    const { onProgress, signal } = request;
    // Made inside the try below, so that whatever exists is disposed when something throws.
    let styleGrams: { value: StyleGrams; owned: boolean } | undefined;
    let contentTarget: tf.Tensor4D | undefined;
    let objective: ScaleObjective | undefined;
    let latest = NO_LOSSES;
    const weights = { styleRatio: job.styleRatio, styleLayerWeights: options.styleLayerWeights, tvWeight: options.tvWeight };
    // The optimizers keep the pixels displayable. The user gets them clamped to 0–255 anyway; optimizing beyond that
    // optimizes an image nobody sees (clamping unbounded results raised their Gram distances by 15–25%).
    const pixelBounds = networkInputBounds();

    const evaluate = async (x: tf.Tensor): Promise<Evaluation<ObjectiveLosses>> => {
      const { loss, gradient, contentLoss, styleLoss, styleLayerLosses } = await objective!.evaluate(x as tf.Tensor4D);
      return { loss, gradient, details: { contentLoss, styleLoss, styleLayerLosses } };
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
      styleGrams = await this.styleGramsAt(job, scale);
      contentTarget = await this.network.contentFeatures(contentInput, options.pooling);
      objective = this.network.objective({ content: contentTarget, styleGrams: styleGrams.value }, weights, options.pooling);
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
          preview: (maxSide = Number.POSITIVE_INFINITY) => renderImage(optimizer.x as tf.Tensor4D, maxSide),
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
      if (styleGrams?.owned) tf.dispose([...styleGrams.value]);
    }
  }

  /** The style's Gram matrices at a scale, and whether this job owns (and must dispose) them. */
  private async styleGramsAt(job: Job, scale: ImageSize): Promise<{ value: StyleGrams; owned: boolean }> {
    const { request, stylePixels, options } = job;
    // The style image is scaled by the same factor as the content: its strokes keep their size relative to the output.
    const factor = Math.max(scale.width, scale.height) / job.outputLongSide;
    const [, height, width] = stylePixels.shape;
    const size = { width: scaledSide(width, factor), height: scaledSide(height, factor) };
    const compute = async (): Promise<StyleGrams> => {
      const scaled = tf.tidy(() => toNetworkInput(resizeImage(stylePixels, size)));
      try {
        return await this.network.styleGrams(scaled, options.pooling);
      } finally {
        scaled.dispose();
      }
    };
    if (!request.styleTargetCache) return { value: await compute(), owned: true };
    return { value: await request.styleTargetCache(`${size.width}x${size.height}:${options.pooling}`, compute), owned: false };
  }
}

/** A side scaled by `factor`, not below the network's useful minimum (unless the image is already smaller). */
function scaledSide(side: number, factor: number): number {
  return factor >= 1 ? side : Math.max(Math.min(side, MIN_IMAGE_SIDE), Math.round(side * factor));
}

function assertLargeEnough(image: RgbImage, label: string): void {
  if (Math.min(image.width, image.height) < MIN_IMAGE_SIDE) {
    throw new Error(
      `${label} is too small for VGG-19 at this size: ${image.width}×${image.height}, both sides must be at least ` +
        `${MIN_IMAGE_SIDE} pixels (use a larger size or a less elongated image)`,
    );
  }
}

/** Uniform noise over the whole pixel range, repeatable through the seed. */
function noiseImage(size: ImageSize, seed: number): tf.Tensor4D {
  return tf.tidy(() =>
    toNetworkInput(tf.randomUniform([1, size.height, size.width, 3], 0, 255, 'float32', seed) as tf.Tensor4D),
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
