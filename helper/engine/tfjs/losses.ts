import * as tf from '@tensorflow/tfjs-core';

/**
 * The terms of Gatys' objective. Every term is a squared error divided by the target's own energy, so that it is
 * dimensionless: the same β/α means the same balance at 256 px and at 1024 px, and for every layer.
 */

/** A target with its energy ‖target‖², precomputed once per job. */
export interface LossTarget<T extends tf.Tensor> {
  readonly value: T;
  readonly energy: tf.Scalar;
}

export function makeLossTarget<T extends tf.Tensor>(value: T): LossTarget<T> {
  return { value, energy: tf.tidy(() => tf.maximum(tf.sum(tf.square(value)), 1e-12) as tf.Scalar) };
}

export function disposeLossTarget(target: LossTarget<tf.Tensor>): void {
  target.value.dispose();
  target.energy.dispose();
}

/** ‖actual − target‖² / ‖target‖². */
export function relativeSquaredError(actual: tf.Tensor, target: LossTarget<tf.Tensor>): tf.Scalar {
  return tf.tidy(() => relativeSquaredErrorOfResidual(tf.sub(actual, target.value), target));
}

/** The same, from the residual actual − target, for a caller that also needs the residual (the gradient does). */
export function relativeSquaredErrorOfResidual(residual: tf.Tensor, target: LossTarget<tf.Tensor>): tf.Scalar {
  return tf.div(tf.sum(tf.square(residual)), target.energy) as tf.Scalar;
}

/** Σ wᵢ·Eᵢ / Σ wᵢ over the style layers, each Eᵢ the relative squared error of a Gram matrix. */
export function weightedStyleLoss(layerLosses: readonly tf.Scalar[], layerWeights: readonly number[]): tf.Scalar {
  const weightSum = layerWeights.reduce((sum, w) => sum + w, 0);
  return tf.addN(layerLosses.map((loss, i) => tf.mul(loss, layerWeights[i]! / weightSum))) as tf.Scalar;
}

/**
 * Total variation: mean squared difference of neighbouring pixels, in units of the full 0–255 range, so that it is
 * also independent of the image's size.
 */
export function totalVariationLoss(image: tf.Tensor4D): tf.Scalar {
  const [, height, width, channels] = image.shape;
  const down = tf.squaredDifference(
    tf.slice(image, [0, 1, 0, 0], [1, height - 1, width, channels]),
    tf.slice(image, [0, 0, 0, 0], [1, height - 1, width, channels]),
  );
  const right = tf.squaredDifference(
    tf.slice(image, [0, 0, 1, 0], [1, height, width - 1, channels]),
    tf.slice(image, [0, 0, 0, 0], [1, height, width - 1, channels]),
  );
  return tf.div(tf.add(tf.mean(down), tf.mean(right)), 255 * 255) as tf.Scalar;
}
