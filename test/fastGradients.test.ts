import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  avgPoolBackward,
  convRelu,
  convReluBackward,
  gramBackward,
  gramMatrix,
  makeBackwardKernel,
  maxPoolBackward,
  pool2x2,
  type GradientPath,
} from '../helper/engine/tfjs/fastGradients.js';
import { useTestBackend } from './support/tfBackend.js';
import { relativeError, values } from './support/tensorMath.js';

/** TensorFlow.js's autodiff of Σ(f(x)·probe) with respect to x: the reference every hand-written block must give. */
function autodiff(f: (x: tf.Tensor4D) => tf.Tensor, x: tf.Tensor4D, probe: tf.Tensor): Float32Array {
  return tf.tidy(() => values(tf.grad((input: tf.Tensor) => tf.sum(tf.mul(f(input as tf.Tensor4D), probe)))(x)));
}

function probeFor(output: tf.Tensor, seed: number): tf.Tensor {
  return tf.randomNormal(output.shape, 0, 1, 'float32', seed);
}

const PATHS: GradientPath[] = ['custom', 'stock'];

describe('each hand-written backward block equals TensorFlow.js autodiff', () => {
  beforeAll(async () => {
    await useTestBackend();
  });

  it.each(PATHS)('3×3 convolution + bias + ReLU (%s)', (path) => {
    tf.tidy(() => {
      const kernel = tf.randomNormal([3, 3, 5, 7], 0, 0.3, 'float32', 1) as tf.Tensor4D;
      const layer = { kernel, bias: tf.randomNormal([7], 0, 0.5, 'float32', 2) as tf.Tensor1D, backwardKernel: makeBackwardKernel(kernel) };
      const x = tf.randomNormal([1, 9, 11, 5], 0, 1, 'float32', 3) as tf.Tensor4D;
      const output = convRelu(x, layer);
      const probe = probeFor(output, 7) as tf.Tensor4D;
      const reference = autodiff((input) => convRelu(input, layer), x, probe);
      // About half the outputs are cut by the ReLU: a backward pass that ignored it would be far off.
      expect(values(tf.cast(tf.greater(output, 0), 'float32')).some((v) => v === 0)).toBe(true);
      const handWritten = values(convReluBackward(probe, tf.greater(output, 0) as tf.Tensor4D, layer, path));
      expect(relativeError(handWritten, reference)).toBeLessThan(1e-4);
    });
  });

  it.each([
    [8, 8, 'custom'],
    [9, 7, 'custom'],
    [9, 7, 'stock'],
  ] as const)('2×2 average pooling on %i×%i (%s)', (height, width, path) => {
    tf.tidy(() => {
      const x = tf.randomNormal([1, height, width, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
      const probe = probeFor(pool2x2(x, 'avg'), 8) as tf.Tensor4D;
      const reference = autodiff((input) => pool2x2(input, 'avg'), x, probe);
      expect(relativeError(values(avgPoolBackward(probe, x.shape, path)), reference)).toBeLessThan(1e-4);
    });
  });

  it('2×2 max pooling', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([1, 9, 7, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
      const output = pool2x2(x, 'max');
      const probe = probeFor(output, 9) as tf.Tensor4D;
      const reference = autodiff((input) => pool2x2(input, 'max'), x, probe);
      expect(relativeError(values(maxPoolBackward(probe, x, output)), reference)).toBeLessThan(1e-4);
    });
  });

  it.each(PATHS)('Gram matrix (%s forward), with a gradient that is not symmetric', (path) => {
    tf.tidy(() => {
      const x = tf.randomNormal([1, 6, 5, 8], 0, 1, 'float32', 6) as tf.Tensor4D;
      expect(relativeError(values(gramMatrix(x, path)), values(gramMatrix(x, 'stock')))).toBeLessThan(1e-6);
      const probe = probeFor(gramMatrix(x, path), 10) as tf.Tensor2D;
      const reference = autodiff((input) => gramMatrix(input, path), x, probe);
      expect(relativeError(values(gramBackward(x, probe)), reference)).toBeLessThan(1e-4);
    });
  });
});
