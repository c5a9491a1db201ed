import * as tf from '@tensorflow/tfjs-core';
import { stylizeOptionsSchema } from '../shared/stylizeOptions.js';
import {
  StyleTransfer,
  convMultiplyAddsPerPixel,
  oneStyle,
  type GatysNetwork,
  type RgbImage,
} from '../helper/engine/index.js';

/** A content image and one style image. */
export interface ImagePair {
  readonly content: RgbImage;
  readonly style: RgbImage;
}

/** The pair as the engine takes it. */
function request(pair: ImagePair): { content: RgbImage; styles: ReturnType<typeof oneStyle> } {
  return { content: pair.content, styles: oneStyle(pair.style) };
}

/** What one size measures, in one fresh process (so that its peak memory is its own). */
export interface SizeMeasurement {
  readonly size: number;
  /** Median wall time of one optimization step (forward + gradient + update), warm-up excluded. */
  readonly secondsPerStep: number;
  /** 4 × the conv multiply-adds through conv5_1 (forward and gradient to the input) per step, per second. */
  readonly gflops: number;
  /** The process's peak resident memory. */
  readonly peakRssMb: number;
  /** The backend's own peak: the most bytes held by TensorFlow.js tensors during one job step. */
  readonly peakTensorMb: number;
  /** From run() to the first preview rendered, for a job at this size with the default options (warm backend). */
  readonly firstPreviewSeconds: number;
}

/** FLOPs the benchmark credits to one step (as ../shared/bench/torch_step.py does for a size × size image). */
export function stepFlops(image: { width: number; height: number }): number {
  return 4 * convMultiplyAddsPerPixel() * image.width * image.height;
}

export async function measureSize(
  network: GatysNetwork,
  /** `steps` are timed on these (square crops, like the PyTorch reference); `job` is a job as a user would run it. */
  images: { steps: ImagePair; job: ImagePair },
  size: number,
  steps: number,
): Promise<SizeMeasurement> {
  const transfer = new StyleTransfer(network);
  // Adam evaluates the objective exactly once per iteration (L-BFGS sometimes backtracks), so an iteration is one
  // step: forward, gradient and a cheap update.
  const options = stylizeOptionsSchema.parse({ size, iterations: steps + 1, multiScale: 'off', optimizer: 'adam' });

  // The first iteration also computes the targets and compiles kernels: it is the warm-up.
  const finishedAt: number[] = [];
  await transfer.run({ ...request(images.steps), options, onProgress: (event) => void finishedAt.push(event.progress.elapsedMs) });
  const stepMs = finishedAt.slice(1).map((end, i) => end - finishedAt[i]!);
  const secondsPerStep = median(stepMs) / 1000;

  const profile = await tf.profile(async () => {
    await transfer.run({ ...request(images.steps), options: { ...options, iterations: 1 } });
  });

  const firstPreviewSeconds = await timeToFirstPreview(transfer, images.job, size);
  return {
    size,
    secondsPerStep,
    gflops: stepFlops(images.steps.content) / secondsPerStep / 1e9,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    peakTensorMb: profile.peakBytes / 2 ** 20,
    firstPreviewSeconds,
  };
}

/** A job with the default options at this size, stopped at its first preview (as the helper renders one). */
async function timeToFirstPreview(
  transfer: StyleTransfer,
  images: ImagePair,
  size: number,
): Promise<number> {
  const controller = new AbortController();
  const startedAt = performance.now();
  let seconds = Number.NaN;
  try {
    await transfer.run({
      ...request(images),
      options: stylizeOptionsSchema.parse({ size }),
      signal: controller.signal,
      onProgress: (event) => {
        event.preview(256);
        seconds = (performance.now() - startedAt) / 1000;
        controller.abort(new Error('first preview'));
      },
    });
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
  return seconds;
}

/** A default job end to end, as a user runs it (the engine loaded): its time, first preview and result. */
export interface DefaultJobMeasurement {
  readonly width: number;
  readonly height: number;
  readonly iterations: number;
  /** From run() to the result, targets and every scale included. */
  readonly seconds: number;
  readonly firstPreviewSeconds: number;
  /** Seconds spent at each scale, coarsest first, as "128×96: 12.3". */
  readonly secondsPerScale: Record<string, number>;
  readonly peakRssMb: number;
  readonly result: RgbImage;
}

export async function measureDefaultJob(
  network: GatysNetwork,
  images: ImagePair,
): Promise<DefaultJobMeasurement> {
  const options = stylizeOptionsSchema.parse({ size: Math.max(images.content.width, images.content.height) });
  const startedAt = performance.now();
  let firstPreviewSeconds = Number.NaN;
  const secondsPerScale: Record<string, number> = {};
  let scale = '';
  let scaleStartedMs = 0;
  let lastElapsedMs = 0;
  const result = await new StyleTransfer(network).run({
    ...request(images),
    options,
    onProgress: ({ progress, preview }) => {
      if (Number.isNaN(firstPreviewSeconds)) {
        preview(256);
        firstPreviewSeconds = (performance.now() - startedAt) / 1000;
      }
      const key = `${progress.scale!.width}×${progress.scale!.height}`;
      if (key !== scale) [scale, scaleStartedMs] = [key, lastElapsedMs];
      secondsPerScale[key] = (progress.elapsedMs - scaleStartedMs) / 1000;
      lastElapsedMs = progress.elapsedMs;
    },
  });
  return {
    width: result.image.width,
    height: result.image.height,
    iterations: result.iterations,
    seconds: result.elapsedMs / 1000,
    firstPreviewSeconds,
    secondsPerScale,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    result: result.image,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
