import * as tf from '@tensorflow/tfjs-core';

/** An image as the engine sees it: 8-bit RGB, interleaved, row-major, no alpha. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** width × height × 3 bytes */
  readonly data: Uint8Array;
}

export function assertRgbImage(image: RgbImage, what: string): void {
  if (!(image.width > 0 && image.height > 0) || image.data.length !== image.width * image.height * 3) {
    throw new Error(`${what}: expected ${image.width}×${image.height}×3 RGB bytes, got ${image.data.length}`);
  }
}

/** [1, H, W, 3] float32 in 0–255. */
export function imageToTensor(image: RgbImage): tf.Tensor4D {
  assertRgbImage(image, 'image');
  return tf.tidy(() => tf.cast(tf.tensor4d(image.data, [1, image.height, image.width, 3], 'int32'), 'float32'));
}

/** Rounds and clamps a [1, H, W, 3] tensor in 0–255 back to bytes. */
export function imageFromTensor(pixels: tf.Tensor4D): RgbImage {
  const [, height, width] = pixels.shape;
  const values = pixels.dataSync();
  const data = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = Math.min(255, Math.max(0, Math.round(values[i]!)));
  return { width, height, data };
}
