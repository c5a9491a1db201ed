import * as tf from '@tensorflow/tfjs-core';

/**
 * A box every coordinate must stay in: lower ≤ x ≤ upper, both broadcastable to x (e.g. one bound per colour
 * channel). The tensors stay with whoever made them.
 */
export interface Bounds {
  readonly lower: tf.Tensor;
  readonly upper: tf.Tensor;
}

/** The nearest point of the box (a new tensor). */
export function projectOntoBounds(x: tf.Tensor, bounds: Bounds): tf.Tensor {
  return tf.tidy(() => tf.minimum(tf.maximum(x, bounds.lower), bounds.upper));
}

/**
 * 1 where a coordinate may move along −gradient, 0 where it sits on a bound that −gradient points out of (the
 * active set of a box-constrained problem). Masking the gradient with it gives the projected gradient.
 */
export function freeCoordinates(x: tf.Tensor, gradient: tf.Tensor, bounds: Bounds): tf.Tensor {
  return tf.tidy(() => {
    const pinnedLow = tf.logicalAnd(tf.lessEqual(x, bounds.lower), tf.greater(gradient, 0));
    const pinnedHigh = tf.logicalAnd(tf.greaterEqual(x, bounds.upper), tf.less(gradient, 0));
    return tf.cast(tf.logicalNot(tf.logicalOr(pinnedLow, pinnedHigh)), 'float32');
  });
}
