import * as tf from '@tensorflow/tfjs-core';
import {
  avgPoolBackward,
  convRelu,
  convReluBackward,
  gradientPlan,
  makeBackwardKernel,
  maxPoolBackward,
  pool2x2,
  type ConvLayerTensors,
  type GradientPath,
  type GradientPlan,
} from './fastGradients.js';
import type { Pooling } from '../gatysNetwork.js';
import { VGG19_CONV_LAYERS, type VggConvLayerSpec, type VggWeights } from '../vggLayers.js';

/**
 * One forward pass through the network (Vgg19Features.forward): the requested features, and on request the way
 * back. Owns its tensors until dispose().
 */
export interface ForwardPass {
  readonly features: ReadonlyMap<string, tf.Tensor4D>;
  /**
   * The gradient with respect to the input, given the gradient with respect to each requested feature (null: none).
   * Walks the layers back, asking `featureGradient` for a feature's gradient when its layer is reached, and frees
   * each layer's record and each feature as soon as it has been used. Call at most once; the caller owns the result.
   */
  backward(featureGradient: (layer: string, feature: tf.Tensor4D) => tf.Tensor4D | null): tf.Tensor4D;
  dispose(): void;
}

/** What the way back needs of one step of the forward pass. */
type BackwardRecord =
  | { readonly kind: 'conv'; readonly name: string; readonly tensors: ConvLayerTensors; readonly positive: tf.Tensor4D }
  | { readonly kind: 'avgPool'; readonly inputShape: [number, number, number, number] }
  | { readonly kind: 'maxPool'; readonly input: tf.Tensor4D; readonly output: tf.Tensor4D };

/**
 * VGG-19 as a feature extractor: the convolutions up to the deepest layer asked for, with ReLU and 2×2 pooling.
 * Owns its weight tensors; call dispose() when done.
 */
export class Vgg19Features {
  private readonly layers: Array<{ spec: VggConvLayerSpec; tensors: ConvLayerTensors }>;
  /** How each building block computes its gradient (see preferredGradientPath). */
  readonly gradients: GradientPlan;

  constructor(
    weights: VggWeights,
    gradients: GradientPath | GradientPlan,
    /** The deepest layer the network is built to (later layers are never needed for Gatys' objective). */
    lastLayer = 'conv5_1',
  ) {
    this.gradients = gradientPlan(gradients);
    const lastIndex = VGG19_CONV_LAYERS.findIndex((layer) => layer.name === lastLayer);
    if (lastIndex < 0) throw new Error(`unknown VGG-19 layer ${lastLayer}`);
    this.layers = VGG19_CONV_LAYERS.slice(0, lastIndex + 1).map((spec) => {
      const convWeights = weights.get(spec.name);
      if (!convWeights) throw new Error(`VGG-19 weights lack layer ${spec.name}`);
      const kernel = tf.tensor4d(convWeights.kernel, [3, 3, spec.inChannels, spec.outChannels]);
      return {
        spec,
        tensors: {
          kernel,
          bias: tf.tensor1d(convWeights.bias),
          backwardKernel: this.gradients.conv === 'custom' ? makeBackwardKernel(kernel) : kernel,
        },
      };
    });
  }

  /**
   * The features of the named layers for an image in the network's input space (see toNetworkInput), as plain
   * TensorFlow.js ops: differentiable by its autodiff, and every intermediate activation stays alive until the
   * caller's tidy() ends. A job's steps and targets use forward(), which keeps far less; this is the reference it is
   * tested against (and the yardstick of distances.ts). Runs only as deep as the deepest requested layer.
   */
  extract(input: tf.Tensor4D, layerNames: readonly string[], pooling: Pooling = 'avg'): Map<string, tf.Tensor4D> {
    const wanted = this.wantedLayers(layerNames);
    const features = new Map<string, tf.Tensor4D>();
    let activation = input;
    for (const { spec, tensors } of this.layers) {
      if (features.size === wanted.size) break;
      if (spec.poolBefore) activation = pool2x2(activation, pooling);
      activation = convRelu(activation, tensors);
      if (wanted.has(spec.name)) features.set(spec.name, activation);
    }
    return features;
  }

  /**
   * The features of the named layers, keeping nothing else: every other activation is freed as soon as the next
   * layer has read it. With `withBackward`, each layer also keeps what its hand-written backward step needs (a
   * 1-byte ReLU mask; for max pooling its input and output), and the pass can compute the gradient with respect to
   * `input`. Pooling has no weights, so one network serves both kinds. Not for use under TensorFlow.js's autodiff.
   */
  forward(input: tf.Tensor4D, layerNames: readonly string[], pooling: Pooling, withBackward: boolean): ForwardPass {
    const wanted = this.wantedLayers(layerNames);
    const features = new Map<string, tf.Tensor4D>();
    const records: BackwardRecord[] = [];
    const kept = new Set<tf.Tensor>([input]);
    const release = (tensor: tf.Tensor4D): void => {
      if (!kept.has(tensor)) tensor.dispose();
    };
    let activation = input;
    try {
      for (const { spec, tensors } of this.layers) {
        if (features.size === wanted.size) break;
        if (spec.poolBefore) {
          const pooled = pool2x2(activation, pooling);
          if (withBackward && pooling === 'max') {
            records.push({ kind: 'maxPool', input: activation, output: pooled });
            kept.add(activation).add(pooled);
          } else {
            if (withBackward) records.push({ kind: 'avgPool', inputShape: activation.shape });
            release(activation);
          }
          activation = pooled;
        }
        const output = convRelu(activation, tensors);
        release(activation);
        activation = output;
        if (withBackward) {
          records.push({ kind: 'conv', name: spec.name, tensors, positive: tf.greater(output, 0) });
        }
        if (wanted.has(spec.name)) {
          features.set(spec.name, output);
          kept.add(output);
        }
      }
      release(activation);
    } catch (error) {
      disposeAll(features, records);
      throw error;
    }

    const plan = this.gradients;
    let backwardDone = false;
    return {
      features,
      backward(featureGradient) {
        if (!withBackward || backwardDone) throw new Error('this forward pass has no backward pass left');
        backwardDone = true;
        let dy: tf.Tensor4D | null = null;
        const replace = (next: tf.Tensor4D): void => {
          dy?.dispose();
          dy = next;
        };
        while (records.length > 0) {
          const record = records.pop()!;
          if (record.kind === 'conv') {
            const feature = features.get(record.name);
            if (feature) {
              const gradient = featureGradient(record.name, feature);
              features.delete(record.name);
              feature.dispose();
              if (gradient) replace(dy ? tf.add(dy, gradient) : gradient);
              if (gradient && dy !== gradient) gradient.dispose();
            }
            if (dy) replace(convReluBackward(dy, record.positive, record.tensors, plan.conv));
            record.positive.dispose();
          } else if (record.kind === 'avgPool') {
            if (dy) replace(avgPoolBackward(dy, record.inputShape, plan.avgPool));
          } else {
            if (dy) replace(maxPoolBackward(dy, record.input, record.output));
            // The pool's input may also be a requested feature, whose layer the walk has yet to reach.
            if (![...features.values()].includes(record.input)) record.input.dispose();
            record.output.dispose();
          }
        }
        return dy ?? tf.zerosLike(input);
      },
      dispose() {
        disposeAll(features, records);
      },
    };
  }

  private wantedLayers(layerNames: readonly string[]): Set<string> {
    const wanted = new Set(layerNames);
    for (const name of wanted) {
      if (!this.layers.some(({ spec }) => spec.name === name)) {
        throw new Error(`layer ${name} is not in this network (built to ${this.lastLayerName})`);
      }
    }
    return wanted;
  }

  get lastLayerName(): string {
    return this.layers[this.layers.length - 1]!.spec.name;
  }

  dispose(): void {
    for (const { tensors } of this.layers) {
      tensors.kernel.dispose();
      tensors.bias.dispose();
      if (tensors.backwardKernel !== tensors.kernel) tensors.backwardKernel.dispose();
    }
  }
}

function disposeAll(features: Map<string, tf.Tensor4D>, records: BackwardRecord[]): void {
  tf.dispose([...features.values()]);
  features.clear();
  for (const record of records.splice(0)) {
    if (record.kind === 'conv') record.positive.dispose();
    if (record.kind === 'maxPool') tf.dispose([record.input, record.output]);
  }
}
