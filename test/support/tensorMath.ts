import type * as tf from '@tensorflow/tfjs-core';

/** ‖a − b‖ / ‖b‖ over all elements, in double precision. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let difference = 0;
  let reference = 0;
  for (let i = 0; i < a.length; i++) {
    difference += (a[i]! - b[i]!) ** 2;
    reference += b[i]! ** 2;
  }
  return Math.sqrt(difference / reference);
}

export function values(tensor: tf.Tensor): Float32Array {
  return tensor.dataSync() as Float32Array;
}
