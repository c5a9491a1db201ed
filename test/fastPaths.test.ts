import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_LAYER, STYLE_LAYERS } from '../shared/stylizeOptions.js';
import { ALL_STOCK, gramMatrix, preferredGradientPath, type GradientPlan } from '../helper/engine/fastGradients.js';
import { BACKEND_NAMES } from '../helper/engine/index.js';
import { Vgg19Features, toNetworkInput } from '../helper/engine/vgg19.js';
import type { VggWeights } from '../helper/engine/vggLayers.js';
import { readVggWeightsFile } from '../helper/weights/vggH5.js';
import { realWeightsPath } from './support/sharedAssets.js';
import { useTestBackend } from './support/tfBackend.js';
import { relativeError } from './support/tensorMath.js';

/**
 * Each backend runs its own mix of custom and stock gradients (preferredGradientPath): every mix must give the
 * gradient of the whole objective that TensorFlow.js's own autodiff gives.
 */
describe("every backend's gradient plan gives the stock gradient", () => {
  let weights: VggWeights;
  let image: tf.Tensor4D;
  let target: tf.Tensor4D;

  beforeAll(async () => {
    await useTestBackend();
    weights = await readVggWeightsFile(realWeightsPath());
    image = tf.tidy(() => toNetworkInput(tf.randomUniform([1, 37, 50, 3], 0, 255, 'float32', 11) as tf.Tensor4D));
    target = tf.tidy(() => toNetworkInput(tf.randomUniform([1, 37, 50, 3], 0, 255, 'float32', 12) as tf.Tensor4D));
  });

  afterAll(() => tf.dispose([image, target]));

  // Backends share plans: each distinct plan's gradient is computed once.
  const gradients = new Map<string, Float32Array>();
  function objectiveGradient(plan: GradientPlan): Float32Array {
    const key = JSON.stringify(plan);
    if (!gradients.has(key)) gradients.set(key, computeObjectiveGradient(plan));
    return gradients.get(key)!;
  }

  function computeObjectiveGradient(plan: GradientPlan): Float32Array {
    const network = new Vgg19Features(weights, plan);
    const layers = [...STYLE_LAYERS, CONTENT_LAYER];
    const feature = (features: Map<string, tf.Tensor4D>, layer: string): tf.Tensor =>
      layer === CONTENT_LAYER ? features.get(layer)! : gramMatrix(features.get(layer)!, plan.gram);
    try {
      return tf.tidy(() => {
        const targets = layers.map((layer) => feature(network.extract(target, layers), layer));
        const gradient = tf.grad((input: tf.Tensor) => {
          const features = network.extract(input as tf.Tensor4D, layers);
          return tf.addN(
            layers.map((layer, i) =>
              tf.div(tf.sum(tf.squaredDifference(feature(features, layer), targets[i]!)), tf.sum(tf.square(targets[i]!))),
            ),
          );
        })(image);
        return gradient.dataSync() as Float32Array;
      });
    } finally {
      network.dispose();
    }
  }

  it.each([...BACKEND_NAMES, 'webgl', 'webgpu'])('%s', (backendName) => {
    const before = tf.memory().numTensors;
    const plan = preferredGradientPath(backendName);
    expect(relativeError(objectiveGradient(plan), objectiveGradient(ALL_STOCK))).toBeLessThan(1e-4);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('wasm and cpu take the custom gradients, native TensorFlow its own', () => {
    expect(preferredGradientPath('wasm')).toEqual({ conv: 'custom', avgPool: 'custom', gram: 'custom' });
    expect(preferredGradientPath('cpu')).toEqual({ conv: 'custom', avgPool: 'custom', gram: 'custom' });
    expect(preferredGradientPath('tensorflow')).toEqual(ALL_STOCK);
  });

  it.each<[string, GradientPlan]>([
    ['custom convolutions with stock pooling', { conv: 'custom', avgPool: 'stock', gram: 'custom' }],
    ['stock convolutions with custom pooling and Gram', { conv: 'stock', avgPool: 'custom', gram: 'custom' }],
  ])('a mixed plan: %s', (_, plan) => {
    expect(relativeError(objectiveGradient(plan), objectiveGradient(ALL_STOCK))).toBeLessThan(1e-4);
  });
});
