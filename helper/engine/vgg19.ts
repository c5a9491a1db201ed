import * as tf from '@tensorflow/tfjs-core';
import {
  convRelu,
  gradientPlan,
  makeBackwardKernel,
  pool2x2,
  type ConvLayerTensors,
  type GradientPath,
  type GradientPlan,
} from './fastGradients.js';
import { IMAGENET_MEAN_BGR, VGG19_CONV_LAYERS, type VggConvLayerSpec, type VggWeights } from './vggLayers.js';

export type Pooling = 'avg' | 'max';

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
   * The features of the named layers for an image in the network's input space (see toNetworkInput).
   * Runs only as deep as the deepest requested layer. Pooling has no weights, so one network serves both kinds.
   */
  extract(input: tf.Tensor4D, layerNames: readonly string[], pooling: Pooling = 'avg'): Map<string, tf.Tensor4D> {
    const wanted = new Set(layerNames);
    const features = new Map<string, tf.Tensor4D>();
    let activation = input;
    for (const { spec, tensors } of this.layers) {
      if (features.size === wanted.size) break;
      if (spec.poolBefore) activation = pool2x2(activation, pooling, this.gradients.avgPool);
      activation = convRelu(activation, tensors, this.gradients.conv);
      if (wanted.has(spec.name)) features.set(spec.name, activation);
    }
    for (const name of wanted) {
      if (!features.has(name)) throw new Error(`layer ${name} is not in this network (built to ${this.lastLayerName})`);
    }
    return features;
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

/** RGB 0–255 [1, H, W, 3] → the Caffe VGG convention: BGR with the ImageNet mean subtracted. */
export function toNetworkInput(rgb: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sub(tf.reverse(rgb, 3), tf.tensor1d([...IMAGENET_MEAN_BGR])) as tf.Tensor4D);
}

/** The inverse of toNetworkInput, clamped to displayable values. */
export function fromNetworkInput(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.reverse(tf.add(x, tf.tensor1d([...IMAGENET_MEAN_BGR])), 3), 0, 255) as tf.Tensor4D);
}
