import type * as tf from '@tensorflow/tfjs-core';
import type { StylizeOptions } from '../../shared/stylizeOptions.js';
import type { ImageSize } from './multiScale.js';

/**
 * What differs between backends: VGG-19 and Gatys' objective evaluated at an image. Everything else — the
 * optimizers, the pixel bounds, coarse to fine, targets caching, previews, progress and cancel — is the one loop in
 * styleTransfer.ts, which works on TensorFlow.js tensors whatever runs the network (see tfjs/ and onnx/).
 *
 * Images are in the network's input space (networkInput.ts), NHWC [1, H, W, 3]. Targets are backend-neutral: the
 * Gram matrices are the same [C, C] matrices on every backend, so a cache or a blend of them serves all.
 */
export type Pooling = StylizeOptions['pooling'];

/** The Gram matrix of each style layer, conv1_1 … conv5_1 in STYLE_LAYERS order, each [C, C]. */
export type StyleGrams = readonly tf.Tensor2D[];

/** What one scale of a job is measured against. The tensors stay their owner's. */
export interface ObjectiveTargets {
  /** The content image's conv4_2 features, NHWC [1, h, w, 512]. */
  readonly content: tf.Tensor4D;
  readonly styleGrams: StyleGrams;
}

export interface ObjectiveWeights {
  /** β/α, with α = 1. */
  readonly styleRatio: number;
  /** w_i of conv1_1 … conv5_1. */
  readonly styleLayerWeights: readonly number[];
  readonly tvWeight: number;
}

/**
 * Refuses weights with which the objective degenerates: style layer weights whose sum is not a finite positive number
 * (five times 1e308 overflows, and every coefficient wᵢ/Σw becomes 0), or a weight that is not finite once it is a
 * float32 (the tensors' type), twice over for the tv weight (the tv term is at most 2). The optimizer could not move
 * from its start, and the content would come back as the result. The options schema bounds every weight far below
 * this (shared/stylizeOptions.ts); this check is for the engine's other callers.
 */
export function assertObjectiveWeightsFinite(weights: ObjectiveWeights): void {
  const isFiniteFloat32 = (value: number): boolean => value >= 0 && Number.isFinite(Math.fround(value));
  const layerWeightSum = weights.styleLayerWeights.reduce((sum, w) => sum + w, 0);
  const problems = [
    isFiniteFloat32(weights.styleRatio) ? null : `β/α = ${weights.styleRatio}`,
    weights.styleLayerWeights.every((w) => w >= 0) && Number.isFinite(layerWeightSum) && layerWeightSum > 0
      ? null
      : `style layer weights ${weights.styleLayerWeights.join(', ')} (their sum must be finite and positive)`,
    isFiniteFloat32(2 * weights.tvWeight) ? null : `tv weight ${weights.tvWeight}`,
  ].filter((problem) => problem !== null);
  if (problems.length > 0) {
    throw new Error(`the objective would degenerate (a weight too large or not a number): ${problems.join('; ')}`);
  }
}

/** The losses at one image: what progress reports. */
export interface ObjectiveLosses {
  readonly contentLoss: number;
  /** Σ wᵢ·Eᵢ / Σ wᵢ. */
  readonly styleLoss: number;
  /** Eᵢ, the relative squared Gram error of each style layer. */
  readonly styleLayerLosses: readonly number[];
}

export interface ObjectiveEvaluation extends ObjectiveLosses {
  /** L_content + β·L_style (+ tv·L_tv): what the optimizer minimizes. */
  readonly loss: number;
  /** With respect to the image; owned by the caller. */
  readonly gradient: tf.Tensor4D;
}

/** The objective of one scale, its targets and weights bound. */
export interface ScaleObjective {
  evaluate(image: tf.Tensor4D): Promise<ObjectiveEvaluation>;
  /** Frees what binding made (never the targets, which stay their owner's). */
  dispose(): void;
}

/** What a job asks of a network's memory, checked before it starts. */
export interface JobFootprint {
  /** The output (the last scale). */
  readonly content: ImageSize;
  /** The largest of the job's style images, scaled as the job uses it at the output size. */
  readonly style: ImageSize;
  /** Curvature pairs L-BFGS keeps (0 for Adam). */
  readonly historySize: number;
}

export interface GatysNetwork {
  /** The content image's conv4_2 features, NHWC; owned by the caller. */
  contentFeatures(image: tf.Tensor4D, pooling: Pooling): Promise<tf.Tensor4D>;
  /** The Gram matrices of the style layers; owned by the caller. */
  styleGrams(image: tf.Tensor4D, pooling: Pooling): Promise<tf.Tensor2D[]>;
  /** Binds one scale's targets (which must outlive the result) and weights. */
  objective(targets: ObjectiveTargets, weights: ObjectiveWeights, pooling: Pooling): ScaleObjective;
  /** Throws, naming the limit and what to do, when the job cannot fit this network's memory. */
  assertFits(job: JobFootprint): void;
  /** Frees the weights and sessions. */
  dispose(): void;
}

/** For messages about memory: 3.2 GiB. */
export function gibibytes(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(1);
}

/** Σ wᵢ·Eᵢ / Σ wᵢ: the style loss from the layers' losses, the same on every backend. */
export function styleLossFromLayers(layerLosses: readonly number[], layerWeights: readonly number[]): number {
  const weightSum = layerWeights.reduce((sum, w) => sum + w, 0);
  return layerLosses.reduce((sum, loss, i) => sum + (loss * layerWeights[i]!) / weightSum, 0);
}

/** β·wᵢ / Σw: each style layer's coefficient in the objective. */
export function styleCoefficients(weights: ObjectiveWeights): number[] {
  const weightSum = weights.styleLayerWeights.reduce((sum, w) => sum + w, 0);
  return weights.styleLayerWeights.map((w) => (weights.styleRatio * w) / weightSum);
}
