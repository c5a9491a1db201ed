import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_LAYER, STYLE_LAYERS } from '../shared/stylizeOptions.js';
import {
  convRelu,
  gramMatrix,
  makeBackwardKernel,
  pool2x2,
  type GradientPath,
} from '../helper/engine/fastGradients.js';
import { Vgg19Features, toNetworkInput } from '../helper/engine/vgg19.js';
import type { VggWeights } from '../helper/engine/vggLayers.js';
import { readVggWeightsFile } from '../helper/weights/vggH5.js';
import { realWeightsPath } from './support/sharedAssets.js';
import { useTestBackend } from './support/tfBackend.js';
import { relativeError, values } from './support/tensorMath.js';

/** The gradient of Σ(f(x)·probe) with respect to x: probes every output element with a distinct weight. */
function gradientOf(f: (x: tf.Tensor4D) => tf.Tensor, x: tf.Tensor4D, probe: tf.Tensor): Float32Array {
  return tf.tidy(() => values(tf.grad((input: tf.Tensor) => tf.sum(tf.mul(f(input as tf.Tensor4D), probe)))(x)));
}

function bothPaths(f: (x: tf.Tensor4D, path: GradientPath) => tf.Tensor, x: tf.Tensor4D): number {
  const probe = tf.tidy(() => tf.randomNormal(f(x, 'stock').shape, 0, 1, 'float32', 7));
  const custom = gradientOf((input) => f(input, 'custom'), x, probe);
  const stock = gradientOf((input) => f(input, 'stock'), x, probe);
  probe.dispose();
  expect(stock.some((value) => value !== 0)).toBe(true);
  return relativeError(custom, stock);
}

describe('custom gradients equal the stock ones', () => {
  beforeAll(async () => {
    await useTestBackend();
  });

  it('3×3 convolution + bias + ReLU', () => {
    const kernel = tf.randomNormal([3, 3, 5, 7], 0, 0.3, 'float32', 1) as tf.Tensor4D;
    const layer = { kernel, bias: tf.randomNormal([7], 0, 0.5, 'float32', 2) as tf.Tensor1D, backwardKernel: makeBackwardKernel(kernel) };
    const x = tf.randomNormal([1, 9, 11, 5], 0, 1, 'float32', 3) as tf.Tensor4D;
    expect(bothPaths((input, path) => convRelu(input, layer, path), x)).toBeLessThan(1e-4);
    tf.dispose([kernel, layer.bias, layer.backwardKernel, x]);
  });

  it.each([
    [8, 8],
    [9, 7],
  ])('2×2 average pooling on %i×%i', (height, width) => {
    const x = tf.randomNormal([1, height, width, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    expect(bothPaths((input, path) => pool2x2(input, 'avg', path), x)).toBeLessThan(1e-4);
    x.dispose();
  });

  it('Gram matrix', () => {
    const x = tf.randomNormal([1, 6, 5, 8], 0, 1, 'float32', 5) as tf.Tensor4D;
    expect(bothPaths((input, path) => gramMatrix(input, path), x)).toBeLessThan(1e-4);
    x.dispose();
  });

  it('the whole objective through VGG-19 with the real weights', async () => {
    const weights: VggWeights = await readVggWeightsFile(realWeightsPath());
    const before = tf.memory().numTensors;
    const image = tf.tidy(() => toNetworkInput(tf.randomUniform([1, 40, 48, 3], 0, 255, 'float32', 6) as tf.Tensor4D));
    const target = tf.tidy(() => toNetworkInput(tf.randomUniform([1, 40, 48, 3], 0, 255, 'float32', 8) as tf.Tensor4D));
    const gradients = (['custom', 'stock'] as const).map((path) => {
      const network = new Vgg19Features(weights, path);
      const layers = [...STYLE_LAYERS, CONTENT_LAYER];
      const targets = tf.tidy(() => {
        const features = network.extract(target, layers);
        return layers.map((layer) => (layer === CONTENT_LAYER ? features.get(layer)! : gramMatrix(features.get(layer)!, path)));
      });
      const gradient = tf.tidy(() =>
        values(
          tf.grad((input: tf.Tensor) => {
            const features = network.extract(input as tf.Tensor4D, layers);
            const terms = layers.map((layer, i) => {
              const actual = layer === CONTENT_LAYER ? features.get(layer)! : gramMatrix(features.get(layer)!, path);
              return tf.div(tf.sum(tf.squaredDifference(actual, targets[i]!)), tf.sum(tf.square(targets[i]!)));
            });
            return tf.addN(terms);
          })(image),
        ),
      );
      tf.dispose(targets);
      network.dispose();
      return gradient;
    });
    tf.dispose([image, target]);
    expect(relativeError(gradients[0]!, gradients[1]!)).toBeLessThan(1e-4);
    expect(tf.memory().numTensors).toBe(before);
  });
});
