import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { convRelu, gramMatrix, makeBackwardKernel, type GradientPath } from '../helper/engine/tfjs/fastGradients.js';
import { useTestBackend } from './support/tfBackend.js';

// The worked example: a 4×4 RGB image through one 3×3 convolution with 8 filters (ReLU) gives features that,
// flattened, are an 8×16 matrix F (channels × positions); its Gram matrix F·Fᵀ is 8×8.
const SIZE = 4;
const IN_CHANNELS = 3;
const FILTERS = 8;

// Small integers keep the hand computation exact in float32.
const image = Array.from({ length: SIZE * SIZE * IN_CHANNELS }, (_, i) => ((i * 7) % 11) - 5);
const kernel = Array.from({ length: 9 * IN_CHANNELS * FILTERS }, (_, i) => ((i * 5) % 7) - 3);
const bias = Array.from({ length: FILTERS }, (_, i) => i - 4);

/** conv 'same' (zero padding) + bias + ReLU, written out loop by loop; returns F as rows of channels. */
function handFeatures(): number[][] {
  const rows = Array.from({ length: FILTERS }, () => new Array<number>(SIZE * SIZE).fill(0));
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      for (let f = 0; f < FILTERS; f++) {
        let sum = bias[f]!;
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) {
            const sy = y + ky - 1;
            const sx = x + kx - 1;
            if (sy < 0 || sy >= SIZE || sx < 0 || sx >= SIZE) continue;
            for (let c = 0; c < IN_CHANNELS; c++) {
              sum += image[(sy * SIZE + sx) * IN_CHANNELS + c]! * kernel[((ky * 3 + kx) * IN_CHANNELS + c) * FILTERS + f]!;
            }
          }
        }
        rows[f]![y * SIZE + x] = Math.max(0, sum);
      }
    }
  }
  return rows;
}

describe('Gram matrix of the worked example', () => {
  beforeAll(async () => {
    await useTestBackend();
  });

  const features = handFeatures();
  // G = F·Fᵀ / (H·W): Gramstyle normalises by the number of positions so that the targets do not grow with size.
  const handGram = features.map((row) =>
    features.map((other) => row.reduce((sum, value, i) => sum + value * other[i]!, 0) / (SIZE * SIZE)),
  );

  it('has 8×16 features with both positive and clipped values', () => {
    expect(features).toHaveLength(8);
    expect(features.every((row) => row.length === 16)).toBe(true);
    expect(features.flat().some((value) => value > 0)).toBe(true);
    expect(features.flat().some((value) => value === 0)).toBe(true);
  });

  it.each<GradientPath>(['custom', 'stock'])('equals the hand computation (%s Gram product)', (path) => {
    const gram = tf.tidy(() => {
      const kernelTensor = tf.tensor4d(kernel, [3, 3, IN_CHANNELS, FILTERS]);
      const layer = { kernel: kernelTensor, bias: tf.tensor1d(bias), backwardKernel: makeBackwardKernel(kernelTensor) };
      const activations = convRelu(tf.tensor4d(image, [1, SIZE, SIZE, IN_CHANNELS]), layer);
      return gramMatrix(activations, path);
    });
    expect(gram.shape).toEqual([8, 8]);
    const computed = gram.arraySync();
    gram.dispose();
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 8; j++) expect(computed[i]![j]).toBeCloseTo(handGram[i]![j]!, 3);
    }
    // Symmetric, non-negative diagonal.
    expect(computed[2]![5]).toBe(computed[5]![2]);
    expect(computed.every((row, i) => row[i]! >= 0)).toBe(true);
  });
});
