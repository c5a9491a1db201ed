import * as tf from '@tensorflow/tfjs-core';
import { CONTENT_LAYER, STYLE_LAYERS, type StylizeOptions } from '../../shared/stylizeOptions.js';
import { gramMatrix } from './fastGradients.js';
import { assertObjectiveWeightsFinite, evaluateGatysObjective } from './gatysObjective.js';
import { disposeLossTarget, makeLossTarget, type LossTarget } from './losses.js';
import { Adam } from './optimizers/adam.js';
import { curvatureAtScale, resizeImage, scaleSchedule, type ImageSize } from './multiScale.js';
import { disposeCurvatureSteps, Lbfgs, type CurvatureStep } from './optimizers/lbfgs.js';
import type { Evaluation, Optimizer } from './optimizers/objective.js';
import { styleRatioForStrength } from './strength.js';
import { fromNetworkInput, networkInputBounds, toNetworkInput, type Pooling, type Vgg19Features } from './vgg19.js';
import { imageFromTensor, imageToTensor, type RgbImage } from './rgbImage.js';
import { MIN_IMAGE_SIDE } from './vggLayers.js';

/** The Gram matrices of the style image, one per style layer: computed once per style image and size. */
export type StyleGramTargets = ReadonlyMap<string, LossTarget<tf.Tensor2D>>;

/**
 * Reuses Gram targets across jobs: run() calls it once per scale with a key naming the scaled style image's size
 * and the pooling ("256x203:avg"); it returns cached targets or stores and returns compute()'s. The cache owns what
 * it returns: run() never disposes those. Callers with several style images add their own image key in front.
 */
export type StyleTargetCache = (key: string, compute: () => StyleGramTargets) => StyleGramTargets;

/** Where a coarse-to-fine job is. */
export interface ScaleProgress {
  /** 0-based, coarsest first; count − 1 is the output size. */
  readonly index: number;
  readonly count: number;
  readonly width: number;
  readonly height: number;
}

export interface ProgressEvent {
  /** 1-based number of the iteration just finished, counted over all scales. */
  readonly iteration: number;
  /** Iterations of the whole job, all scales together. */
  readonly total: number;
  /** L_content and L_style at the current image (unweighted), measured at the current scale. */
  readonly contentLoss: number;
  readonly styleLoss: number;
  /** The relative squared Gram error of each style layer (conv1_1 … conv5_1); styleLoss is their weighted mean. */
  readonly styleLayerLosses?: readonly number[];
  /** The scale this iteration ran at; a single-scale job has one, of the output size. */
  readonly scale?: ScaleProgress;
  readonly elapsedMs: number;
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
  /** Optional cache of the style image's Gram targets, asked once per scale (they differ between scales). */
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

interface Losses {
  /** The objective's value: L_content + β·L_style (+ tv·L_tv). */
  readonly loss: number;
  readonly contentLoss: number;
  readonly styleLoss: number;
  readonly styleLayerLosses: readonly number[];
}

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
}

/**
 * Gatys, Ecker & Bethge (CVPR 2016): optimize the pixels of an image so that its conv4_2 features match the
 * content image's and its Gram matrices on conv1_1 … conv5_1 match the style image's, minimizing
 * α·L_content + β·L_style (+ an optional total-variation term), with α = 1 and β from the style strength.
 * Large jobs run coarse to fine (see multiScale.ts): each scale recomputes its targets from the scaled images and
 * starts from the previous scale's result, upsampled.
 */
export class StyleTransfer {
  constructor(private readonly network: Vgg19Features) {}

  private gramTargetsOf(pixels: tf.Tensor4D, pooling: Pooling): StyleGramTargets {
    const input = toNetworkInput(pixels);
    const pass = this.network.forward(input, STYLE_LAYERS, pooling, false);
    try {
      const grams = STYLE_LAYERS.map((layer) => gramMatrix(pass.features.get(layer)!, this.network.gradients.gram));
      return new Map(STYLE_LAYERS.map((layer, i) => [layer, makeLossTarget(grams[i]!)]));
    } finally {
      pass.dispose();
      input.dispose();
    }
  }

  /** The content's conv4_2 features at one scale, from the content there in the network's input space. */
  private contentTargetOf(job: Job, contentInput: tf.Tensor4D): LossTarget<tf.Tensor4D> {
    const pass = this.network.forward(contentInput, [CONTENT_LAYER], job.options.pooling, false);
    try {
      return makeLossTarget(tf.clone(pass.features.get(CONTENT_LAYER)!));
    } finally {
      pass.dispose();
    }
  }

  async run(request: StylizeRequest): Promise<StylizeResult> {
    const { content, options, signal } = request;
    const startedAt = performance.now();
    signal?.throwIfAborted();
    assertLargeEnough(content, 'content image');
    assertLargeEnough(request.style, 'style image');
    assertFitsBackendMemory(content, request.style);
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
    };
    let image: tf.Tensor4D | undefined;
    // The previous scale's L-BFGS steps, at that scale's size.
    let coarseSteps: CurvatureStep[] = [];
    let latest: Losses = { loss: Number.NaN, contentLoss: Number.NaN, styleLoss: Number.NaN, styleLayerLosses: [] };
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
          const progress: ScaleProgress = { index, count: schedule.length, width: scale.width, height: scale.height };
          const outcome = await this.optimizeAtScale(
            job,
            progress,
            start,
            carriedSteps,
            contentInput,
            scale.iterations,
            done,
          );
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
   * scale) are taken over. Resolves to the scale's result, its own L-BFGS steps (both owned by the caller) and its
   * last losses; everything else it made is disposed, also when it throws.
   */
  private async optimizeAtScale(
    job: Job,
    scale: ScaleProgress,
    start: tf.Tensor4D,
    carriedSteps: CurvatureStep[],
    contentInput: tf.Tensor4D,
    iterations: number,
    iterationsBefore: number,
  ): Promise<{ image: tf.Tensor4D; steps: CurvatureStep[]; latest: Losses }> {
    const { options, request } = job;
    const { onProgress, signal } = request;
    // Made inside the try below, so that whatever exists is disposed when something throws.
    let styleTargets: { value: StyleGramTargets; owned: boolean } | undefined;
    let contentTarget: LossTarget<tf.Tensor4D> | undefined;
    let latest: Losses = { loss: Number.NaN, contentLoss: Number.NaN, styleLoss: Number.NaN, styleLayerLosses: [] };
    const weights = { styleRatio: job.styleRatio, styleLayerWeights: options.styleLayerWeights, tvWeight: options.tvWeight };
    // The optimizers keep the pixels displayable. The user gets them clamped to 0–255 anyway; optimizing beyond that
    // optimizes an image nobody sees (clamping unbounded results raised their Gram distances by 15–25%).
    const pixelBounds = networkInputBounds();

    const objective = async (x: tf.Tensor): Promise<Evaluation> => {
      const targets = { content: contentTarget!, styleGrams: styleTargets!.value };
      const evaluation = await evaluateGatysObjective(this.network, x as tf.Tensor4D, targets, weights, options.pooling);
      const { loss, gradient, contentLoss, styleLoss, styleLayerLosses } = evaluation;
      latest = { loss, contentLoss, styleLoss, styleLayerLosses };
      return { loss, gradient };
    };

    const optimizer: Optimizer =
      options.optimizer === 'lbfgs'
        ? new Lbfgs(
            start,
            objective,
            {
              historySize: options.lbfgsHistory,
              // The losses are relative, so gradients shrink as pixels are added; real jobs (even at strength 1) stay
              // several orders of magnitude above this, while an already optimal start (strength 0) sits below it.
              gradientTolerance: 1e-5 / start.size,
              bounds: pixelBounds,
            },
            carriedSteps,
          )
        : new Adam(start, objective, { learningRate: options.learningRate, bounds: pixelBounds });
    if (!(optimizer instanceof Lbfgs)) disposeCurvatureSteps(carriedSteps);
    start.dispose();

    try {
      styleTargets = this.styleTargetsAt(job, scale);
      contentTarget = this.contentTargetOf(job, contentInput);
      for (let step = 1; step <= iterations; step++) {
        const iteration = iterationsBefore + step;
        await optimizer.step();
        signal?.throwIfAborted();
        if (![latest.loss, latest.contentLoss, latest.styleLoss].every(Number.isFinite)) {
          throw new Error(`the optimization diverged at iteration ${iteration} (loss is not finite)`);
        }
        await onProgress?.({
          iteration,
          total: job.total,
          ...latest,
          scale,
          elapsedMs: performance.now() - job.startedAt,
          preview: (maxSide = Number.POSITIVE_INFINITY) => renderImage(optimizer.x as tf.Tensor4D, maxSide),
        });
        signal?.throwIfAborted();
      }
      const steps = optimizer instanceof Lbfgs ? optimizer.releaseHistory() : [];
      return { image: tf.clone(optimizer.x as tf.Tensor4D), steps, latest };
    } finally {
      optimizer.dispose();
      tf.dispose([pixelBounds.lower, pixelBounds.upper]);
      if (contentTarget) disposeLossTarget(contentTarget);
      if (styleTargets?.owned) disposeStyleGramTargets(styleTargets.value);
    }
  }

  /** The style's Gram targets at a scale, and whether this job owns (and must dispose) them. */
  private styleTargetsAt(job: Job, scale: ImageSize): { value: StyleGramTargets; owned: boolean } {
    const { request, stylePixels, options } = job;
    // The style image is scaled by the same factor as the content: its strokes keep their size relative to the output.
    const factor = Math.max(scale.width, scale.height) / job.outputLongSide;
    const [, height, width] = stylePixels.shape;
    const size = { width: scaledSide(width, factor), height: scaledSide(height, factor) };
    const compute = (): StyleGramTargets => {
      const scaled = resizeImage(stylePixels, size);
      try {
        return this.gramTargetsOf(scaled, options.pooling);
      } finally {
        scaled.dispose();
      }
    };
    if (!request.styleTargetCache) return { value: compute(), owned: true };
    return { value: request.styleTargetCache(`${size.width}x${size.height}:${options.pooling}`, compute), owned: false };
  }
}

/** A side scaled by `factor`, not below the network's useful minimum (unless the image is already smaller). */
function scaledSide(side: number, factor: number): number {
  return factor >= 1 ? side : Math.max(Math.min(side, MIN_IMAGE_SIDE), Math.round(side * factor));
}

/**
 * WebAssembly's heap ends at 4 GiB, and running out inside a kernel does not fail cleanly: XNNPACK's allocation
 * fails, and the backend goes on with a null operator (a trap in the single-threaded build, a thread that never
 * finishes in the threaded one). So the wasm backend takes only jobs that fit, checked before they start, from
 * tensor memory measured with bench/ (it grows linearly with the pixels), plus a margin:
 * - a job's step: 2,040 bytes per output pixel at 512 × 512 (534 MB), 1,740 at 1024 × 1024 (1.8 GB), plus the
 *   L-BFGS history (2 × 10 images of 12 bytes a pixel);
 * - the style image's forward pass, for its Gram targets: 1,000 bytes per pixel of the scaled style image.
 * The budget leaves room for the weights (80 MB), the allocator's slack and the fragmentation of a long job.
 */
const STEP_BYTES_PER_PIXEL = 2_600;
const STYLE_FORWARD_BYTES_PER_PIXEL = 1_300;
const WASM_TENSOR_BUDGET_BYTES = 3 * 2 ** 30;

function assertFitsBackendMemory(content: RgbImage, style: RgbImage): void {
  if (tf.getBackend() !== 'wasm') return;
  const gib = (bytes: number): string => (bytes / 2 ** 30).toFixed(1);
  const stepBytes = content.width * content.height * STEP_BYTES_PER_PIXEL;
  if (stepBytes > WASM_TENSOR_BUDGET_BYTES) {
    const maxPixels = Math.floor(WASM_TENSOR_BUDGET_BYTES / STEP_BYTES_PER_PIXEL);
    throw new Error(
      `${content.width}×${content.height} needs about ${gib(stepBytes)} GiB per step, more than the wasm backend's ` +
        `4 GiB heap holds (at most about ${maxPixels.toLocaleString('en')} pixels, e.g. ` +
        `${Math.floor(Math.sqrt((maxPixels * 4) / 3))}×${Math.floor(Math.sqrt((maxPixels * 3) / 4))}): ` +
        'use a smaller size or a native TensorFlow backend',
    );
  }
  const styleBytes = style.width * style.height * STYLE_FORWARD_BYTES_PER_PIXEL;
  if (styleBytes > WASM_TENSOR_BUDGET_BYTES) {
    throw new Error(
      `the style image, scaled like the content to ${style.width}×${style.height}, needs about ${gib(styleBytes)} GiB, ` +
        "more than the wasm backend's 4 GiB heap holds: use a smaller size, or a style image closer to the " +
        "content's proportions",
    );
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

export function disposeStyleGramTargets(targets: StyleGramTargets): void {
  for (const target of targets.values()) disposeLossTarget(target);
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
