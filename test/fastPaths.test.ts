import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_LAYER, STYLE_LAYERS } from '../shared/stylizeOptions.js';
import {
  OnnxGatysNetwork,
  providerPlan,
  TfjsGatysNetwork,
  type GatysNetwork,
  type ObjectiveTargets,
  type ObjectiveWeights,
  type Pooling,
  type ProviderPlan,
  type VggWeights,
} from '../helper/engine/index.js';
import { toNetworkInput } from '../helper/engine/networkInput.js';
import { ALL_STOCK, gramMatrix, preferredGradientPath, type GradientPlan } from '../helper/engine/tfjs/fastGradients.js';
import {
  makeLossTarget,
  relativeSquaredError,
  totalVariationLoss,
  weightedStyleLoss,
} from '../helper/engine/tfjs/losses.js';
import { Vgg19Features } from '../helper/engine/tfjs/vgg19.js';
import { readVggWeightsFile } from '../helper/weights/vggH5.js';
import { realWeightsPath } from './support/sharedAssets.js';
import { useTestBackend } from './support/tfBackend.js';
import { relativeError, values } from './support/tensorMath.js';

/**
 * Every backend's objective (TensorFlow.js's hand-written backward pass through VGG-19 with each backend's plan of
 * kernels; the ONNX model on onnxruntime's CPU provider) must give the loss and the gradient that TensorFlow.js's
 * autodiff gives for the same formula, on an image of odd size (pooling drops a row and a column).
 */
describe("the engine's gradient equals TensorFlow.js autodiff, on every backend", () => {
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
    // With a flat patch, as designs have: equal neighbours tie in max pooling, whose gradient goes to the first.
    image = tf.tidy(() => {
      const noise = pixels(11);
      const patch = tf.pad(tf.ones([1, 20, 30, 3]), [[0, 0], [6, 11], [10, 10], [0, 0]]);
      return tf.add(tf.mul(noise, tf.sub(1, patch)), tf.mul(patch, 40)) as tf.Tensor4D;
    });
    styleImage = pixels(12);
    contentImage = pixels(13);
  });

  afterAll(() => tf.dispose([image, styleImage, contentImage]));

  /** The targets, from TensorFlow.js's plain ops: the same for every network under test. */
  function targetsFor(network: Vgg19Features, pooling: Pooling): ObjectiveTargets {
    return tf.tidy(() => {
      const styleFeatures = network.extract(styleImage, STYLE_LAYERS, pooling);
      const styleGrams = STYLE_LAYERS.map((layer) => gramMatrix(styleFeatures.get(layer)!, 'stock'));
      const content = network.extract(contentImage, [CONTENT_LAYER], pooling).get(CONTENT_LAYER)!;
      return { content, styleGrams };
    });
  }

  function disposeTargets(targets: ObjectiveTargets): void {
    tf.dispose([targets.content, ...targets.styleGrams]);
  }

  /** The reference: the same formula, differentiated by TensorFlow.js through plain ops. */
  function autodiffReference(pooling: Pooling): { loss: number; gradient: Float32Array } {
    const network = new Vgg19Features(weights, ALL_STOCK);
    const targets = targetsFor(network, pooling);
    try {
      return tf.tidy(() => {
        const { value, grads } = tf.valueAndGrads((input: tf.Tensor) => {
          const features = network.extract(input as tf.Tensor4D, [...STYLE_LAYERS, CONTENT_LAYER], pooling);
          const contentLoss = relativeSquaredError(features.get(CONTENT_LAYER)!, makeLossTarget(targets.content));
          const layerLosses = STYLE_LAYERS.map((layer, i) =>
            relativeSquaredError(gramMatrix(features.get(layer)!, 'stock'), makeLossTarget(targets.styleGrams[i]!)),
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

  /** The network's objective at the test image, against the reference's targets. */
  async function engineObjective(network: GatysNetwork, pooling: Pooling): Promise<{ loss: number; gradient: Float32Array }> {
    const reference = new Vgg19Features(weights, ALL_STOCK);
    const targets = targetsFor(reference, pooling);
    try {
      const before = tf.memory().numTensors;
      const objective = network.objective(targets, objectiveWeights, pooling);
      const evaluation = await objective.evaluate(image);
      const gradient = values(evaluation.gradient);
      evaluation.gradient.dispose();
      objective.dispose();
      // Nothing of the forward or backward pass outlives the evaluation.
      expect(tf.memory().numTensors).toBe(before);
      return { loss: evaluation.loss, gradient };
    } finally {
      disposeTargets(targets);
      reference.dispose();
      network.dispose();
    }
  }

  const tfjsNetwork = (plan: GradientPlan) => new TfjsGatysNetwork(weights, plan, false);
  const cpuPlan = providerPlan('onnxruntime') as ProviderPlan;
  const onnxNetwork = (convolutions = cpuPlan.convolutions) =>
    OnnxGatysNetwork.create(weights, { plan: { ...cpuPlan, convolutions }, wasmHost: true });

  /**
   * The autodiff reference per pooling, computed on a TensorFlow.js backend. Where max pooling's window has equal
   * maxima (the flat patch), backends differ in which one gets the gradient: wasm's kernel picks the last, the cpu
   * backend, native TensorFlow and onnxruntime the first. Each network is held to the reference with its own rule.
   */
  const references = new Map<string, { loss: number; gradient: Float32Array }>();
  async function reference(pooling: Pooling, tieRule: 'wasm' | 'cpu'): Promise<{ loss: number; gradient: Float32Array }> {
    const key = `${pooling}:${tieRule}`;
    if (!references.has(key)) {
      await useTestBackend(tieRule);
      try {
        references.set(key, autodiffReference(pooling));
      } finally {
        await useTestBackend('wasm');
      }
    }
    return references.get(key)!;
  }

  async function expectEqual(
    actual: { loss: number; gradient: Float32Array },
    pooling: Pooling,
    tieRule: 'wasm' | 'cpu' = 'wasm',
  ): Promise<void> {
    const expected = await reference(pooling, tieRule);
    expect(expected.gradient.some((value) => value !== 0)).toBe(true);
    expect(Math.abs(actual.loss - expected.loss) / expected.loss).toBeLessThan(1e-4);
    expect(relativeError(actual.gradient, expected.gradient)).toBeLessThan(1e-4);
  }

  it.each(['wasm', 'cpu', 'tensorflow', 'webgl', 'webgpu'])("TensorFlow.js with %s's plan", async (backendName) => {
    await expectEqual(await engineObjective(tfjsNetwork(preferredGradientPath(backendName)), 'avg'), 'avg');
  });

  it.each<[string, GradientPlan]>([
    ['custom convolutions with stock pooling', { conv: 'custom', avgPool: 'stock', gram: 'custom' }],
    ['stock convolutions with custom pooling and Gram', { conv: 'stock', avgPool: 'custom', gram: 'custom' }],
  ])('TensorFlow.js with a mixed plan: %s', async (_, plan) => {
    await expectEqual(await engineObjective(tfjsNetwork(plan), 'avg'), 'avg');
  });

  it('TensorFlow.js with max pooling', async () => {
    await expectEqual(await engineObjective(tfjsNetwork(preferredGradientPath('wasm')), 'max'), 'max');
  });

  // The CPU provider's plan (Winograd on the deep layers) with both poolings; plain Conv as GPU providers get it.
  it.each<[Pooling, ProviderPlan['convolutions']]>([
    ['avg', 'winograd'],
    ['max', 'winograd'],
    ['avg', 'direct'],
  ])('the ONNX model on onnxruntime, %s pooling, %s convolutions', async (pooling, convolutions) => {
    await expectEqual(await engineObjective(await onnxNetwork(convolutions), pooling), pooling, pooling === 'max' ? 'cpu' : 'wasm');
  });

  it.each<Pooling>(['avg', 'max'])("the ONNX targets model: the content's conv4_2 and the style's Grams, %s pooling", async (pooling) => {
    const network = await onnxNetwork();
    const reference = new Vgg19Features(weights, ALL_STOCK);
    const expected = targetsFor(reference, pooling);
    try {
      const content = await network.contentFeatures(contentImage, pooling);
      const grams = await network.styleGrams(styleImage, pooling);
      expect(content.shape).toEqual(expected.content.shape);
      expect(relativeError(values(content), values(expected.content))).toBeLessThan(1e-5);
      grams.forEach((gram, i) => expect(relativeError(values(gram), values(expected.styleGrams[i]!))).toBeLessThan(1e-5));
      tf.dispose([content, ...grams]);
    } finally {
      disposeTargets(expected);
      reference.dispose();
      network.dispose();
    }
  });

  it('wasm and cpu take the custom formulations, native TensorFlow its own kernels', () => {
    expect(preferredGradientPath('wasm')).toEqual({ conv: 'custom', avgPool: 'custom', gram: 'custom' });
    expect(preferredGradientPath('cpu')).toEqual({ conv: 'custom', avgPool: 'custom', gram: 'custom' });
    expect(preferredGradientPath('tensorflow')).toEqual(ALL_STOCK);
  });
});
