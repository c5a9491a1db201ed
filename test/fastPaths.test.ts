import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_LAYER, STYLE_LAYERS } from '../shared/stylizeOptions.js';
import { ALL_STOCK, gramMatrix, preferredGradientPath, type GradientPlan } from '../helper/engine/fastGradients.js';
import { evaluateGatysObjective, type ObjectiveWeights } from '../helper/engine/gatysObjective.js';
import { BACKEND_NAMES } from '../helper/engine/index.js';
import {
  makeLossTarget,
  relativeSquaredError,
  totalVariationLoss,
  weightedStyleLoss,
  type LossTarget,
} from '../helper/engine/losses.js';
import { Vgg19Features, toNetworkInput, type Pooling } from '../helper/engine/vgg19.js';
import type { VggWeights } from '../helper/engine/vggLayers.js';
import { readVggWeightsFile } from '../helper/weights/vggH5.js';
import { realWeightsPath } from './support/sharedAssets.js';
import { useTestBackend } from './support/tfBackend.js';
import { relativeError, values } from './support/tensorMath.js';

/**
 * The engine's objective (evaluateGatysObjective: a hand-written backward pass through VGG-19, with each backend's
 * plan of kernels) must give the loss and the gradient that TensorFlow.js's autodiff gives for the same formula.
 */
describe("the engine's gradient equals TensorFlow.js autodiff, on every backend's plan", () => {
  let weights: VggWeights;
  let image: tf.Tensor4D;
  let styleImage: tf.Tensor4D;
  let contentImage: tf.Tensor4D;
  const objectiveWeights: ObjectiveWeights = { styleRatio: 30, styleLayerWeights: [1, 0.5, 2, 1, 0.25], tvWeight: 0.5 };

  beforeAll(async () => {
    await useTestBackend();
    weights = await readVggWeightsFile(realWeightsPath());
    const pixels = (seed: number) =>
      tf.tidy(() => toNetworkInput(tf.randomUniform([1, 37, 50, 3], 0, 255, 'float32', seed) as tf.Tensor4D));
    image = pixels(11);
    styleImage = pixels(12);
    contentImage = pixels(13);
  });

  afterAll(() => tf.dispose([image, styleImage, contentImage]));

  function targetsFor(network: Vgg19Features, pooling: Pooling) {
    const grams = tf.tidy(() => {
      const styleFeatures = network.extract(styleImage, STYLE_LAYERS, pooling);
      return STYLE_LAYERS.map((layer) => gramMatrix(styleFeatures.get(layer)!, 'stock'));
    });
    const styleGrams = new Map(STYLE_LAYERS.map((layer, i) => [layer, makeLossTarget(grams[i]!)] as const));
    const contentFeatures = tf.tidy(() => network.extract(contentImage, [CONTENT_LAYER], pooling).get(CONTENT_LAYER)!);
    return { content: makeLossTarget(contentFeatures), styleGrams };
  }

  function disposeTargets(targets: { content: LossTarget<tf.Tensor>; styleGrams: Map<string, LossTarget<tf.Tensor>> }) {
    for (const target of [targets.content, ...targets.styleGrams.values()]) tf.dispose([target.value, target.energy]);
  }

  /** The reference: the same formula, differentiated by TensorFlow.js through plain ops. */
  function autodiffReference(pooling: Pooling): { loss: number; gradient: Float32Array } {
    const network = new Vgg19Features(weights, ALL_STOCK);
    const targets = targetsFor(network, pooling);
    try {
      return tf.tidy(() => {
        const { value, grads } = tf.valueAndGrads((input: tf.Tensor) => {
          const features = network.extract(input as tf.Tensor4D, [...STYLE_LAYERS, CONTENT_LAYER], pooling);
          const contentLoss = relativeSquaredError(features.get(CONTENT_LAYER)!, targets.content);
          const layerLosses = STYLE_LAYERS.map((layer) =>
            relativeSquaredError(gramMatrix(features.get(layer)!, 'stock'), targets.styleGrams.get(layer)!),
          );
          const styleLoss = weightedStyleLoss(layerLosses, objectiveWeights.styleLayerWeights);
          const tv = tf.mul(totalVariationLoss(input as tf.Tensor4D), objectiveWeights.tvWeight);
          return tf.addN([contentLoss, tf.mul(styleLoss, objectiveWeights.styleRatio), tv]) as tf.Scalar;
        })([image]);
        return { loss: value.dataSync()[0]!, gradient: values(grads[0]!) };
      });
    } finally {
      disposeTargets(targets);
      network.dispose();
    }
  }

  async function engineObjective(plan: GradientPlan, pooling: Pooling): Promise<{ loss: number; gradient: Float32Array }> {
    const network = new Vgg19Features(weights, plan);
    const targets = targetsFor(network, pooling);
    try {
      const before = tf.memory().numTensors;
      const evaluation = await evaluateGatysObjective(network, image, targets, objectiveWeights, pooling);
      const gradient = values(evaluation.gradient);
      evaluation.gradient.dispose();
      // Nothing of the forward or backward pass outlives the evaluation.
      expect(tf.memory().numTensors).toBe(before);
      return { loss: evaluation.loss, gradient };
    } finally {
      disposeTargets(targets);
      network.dispose();
    }
  }

  const references = new Map<Pooling, { loss: number; gradient: Float32Array }>();
  const reference = (pooling: Pooling) => {
    if (!references.has(pooling)) references.set(pooling, autodiffReference(pooling));
    return references.get(pooling)!;
  };

  function expectEqual(actual: { loss: number; gradient: Float32Array }, pooling: Pooling): void {
    const expected = reference(pooling);
    expect(expected.gradient.some((value) => value !== 0)).toBe(true);
    expect(Math.abs(actual.loss - expected.loss) / expected.loss).toBeLessThan(1e-4);
    expect(relativeError(actual.gradient, expected.gradient)).toBeLessThan(1e-4);
  }

  it.each([...BACKEND_NAMES, 'webgl', 'webgpu'])('%s', async (backendName) => {
    expectEqual(await engineObjective(preferredGradientPath(backendName), 'avg'), 'avg');
  });

  it.each<[string, GradientPlan]>([
    ['custom convolutions with stock pooling', { conv: 'custom', avgPool: 'stock', gram: 'custom' }],
    ['stock convolutions with custom pooling and Gram', { conv: 'stock', avgPool: 'custom', gram: 'custom' }],
  ])('a mixed plan: %s', async (_, plan) => {
    expectEqual(await engineObjective(plan, 'avg'), 'avg');
  });

  it('with max pooling', async () => {
    expectEqual(await engineObjective(preferredGradientPath('wasm'), 'max'), 'max');
  });

  it('wasm and cpu take the custom formulations, native TensorFlow its own kernels', () => {
    expect(preferredGradientPath('wasm')).toEqual({ conv: 'custom', avgPool: 'custom', gram: 'custom' });
    expect(preferredGradientPath('cpu')).toEqual({ conv: 'custom', avgPool: 'custom', gram: 'custom' });
    expect(preferredGradientPath('tensorflow')).toEqual(ALL_STOCK);
  });
});
