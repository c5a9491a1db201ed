import * as tf from '@tensorflow/tfjs-core';
import type { Bounds } from './optimizers/bounds.js';
import { IMAGENET_MEAN_BGR } from './vggLayers.js';

/**
 * The image the optimizers work on is in VGG-19's input space, the convention of its Caffe-trained weights: BGR with
 * the ImageNet mean subtracted, NHWC [1, H, W, 3]. Every backend's network takes it as it is.
 */

/** RGB 0–255 [1, H, W, 3] → the Caffe VGG convention: BGR with the ImageNet mean subtracted. */
export function toNetworkInput(rgb: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sub(tf.reverse(rgb, 3), tf.tensor1d([...IMAGENET_MEAN_BGR])) as tf.Tensor4D);
}

/** The displayable pixels, RGB 0–255, in the network's input space: one bound per channel (new tensors). */
export function networkInputBounds(): Bounds {
  return tf.tidy(() => {
    const mean = tf.tensor1d([...IMAGENET_MEAN_BGR]);
    return { lower: tf.neg(mean), upper: tf.sub(255, mean) };
  });
}

/** The inverse of toNetworkInput, clamped to displayable values. */
export function fromNetworkInput(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.reverse(tf.add(x, tf.tensor1d([...IMAGENET_MEAN_BGR])), 3), 0, 255) as tf.Tensor4D);
}
