import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients; the union package registers them all (tfjs-node depends on it too). The
// engine's own backward pass does not need them, but TensorFlow.js's autodiff of the same network (the reference
// the tests hold the engine to, and the total-variation term) does.
import '@tensorflow/tfjs';

/**
 * The building blocks of VGG-19's forward pass, and their backward passes written by hand (vgg19.ts chains them
 * into the gradient of the whole network). Each backward block comes in up to two flavours with equal results:
 *
 * - `custom`: formulations that avoid kernels some backends run slowly. On wasm the stock Conv2DBackpropInput is
 *   ~6× slower than a plain convolution with the kernel flipped and its in/out channels swapped, which is the
 *   same thing for a 3×3 'same' convolution; the stock AvgPoolGrad ~3× slower than spreading each window's
 *   gradient by a nearest-neighbour upsampling.
 * - `stock`: TensorFlow.js's own gradient kernels, which native backends (TensorFlow C, CUDA) run well.
 *
 * Writing the backward pass by hand (rather than through TensorFlow.js's autodiff tape) is also what keeps a step's
 * memory low: the tape holds every activation of the forward pass, and a copy of everything a gradient saves, until
 * the whole backward pass ends; here each layer keeps a 1-byte ReLU mask, and each gradient is freed once used.
 * test/fastGradients.test.ts and test/fastPaths.test.ts prove every block and plan against TensorFlow.js's autodiff.
 */
export type GradientPath = 'custom' | 'stock';

export interface ConvLayerTensors {
  /** HWIO [3, 3, in, out] */
  readonly kernel: tf.Tensor4D;
  readonly bias: tf.Tensor1D;
  /** The kernel rotated by 180° with in/out swapped: HWIO [3, 3, out, in]. Only the custom path needs it. */
  readonly backwardKernel: tf.Tensor4D;
}

export function makeBackwardKernel(kernel: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D);
}

/** relu(conv2d(x, kernel, 'same') + bias) for a batch of one NHWC image. */
export function convRelu(x: tf.Tensor4D, layer: ConvLayerTensors): tf.Tensor4D {
  return tf.fused.conv2d({ x, filter: layer.kernel, strides: 1, pad: 'same', bias: layer.bias, activation: 'relu' });
}

/**
 * The gradient of convRelu with respect to its input, from the gradient `dy` at its output and where that output
 * was positive (`positive`, bool: all the ReLU needs, and the transposed convolution needs nothing of the input).
 */
export function convReluBackward(
  dy: tf.Tensor4D,
  positive: tf.Tensor4D,
  layer: ConvLayerTensors,
  path: GradientPath,
): tf.Tensor4D {
  return tf.tidy(() => {
    const masked = tf.mul(dy, tf.cast(positive, 'float32')) as tf.Tensor4D;
    if (path === 'custom') return tf.conv2d(masked, layer.backwardKernel, 1, 'same');
    const [, height, width] = dy.shape;
    const inChannels = layer.kernel.shape[2];
    return tf.conv2dTranspose(masked, layer.kernel, [1, height, width, inChannels], 1, 'same');
  });
}

/** 2×2 pooling with stride 2 ('valid': an odd last row or column is dropped, as in Keras' VGG-19). */
export function pool2x2(x: tf.Tensor4D, kind: 'avg' | 'max'): tf.Tensor4D {
  return kind === 'max' ? tf.maxPool(x, 2, 2, 'valid') : tf.avgPool(x, 2, 2, 'valid');
}

/** The gradient of 2×2 average pooling with respect to its input of shape `inputShape`. */
export function avgPoolBackward(
  dy: tf.Tensor4D,
  inputShape: readonly [number, number, number, number],
  path: GradientPath,
): tf.Tensor4D {
  return tf.tidy(() => {
    if (path === 'stock') {
      const input = tf.zeros(inputShape as [number, number, number, number]);
      return tf.engine().runKernel('AvgPoolGrad', { dy, input }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor4D;
    }
    // Each input pixel of a window receives a quarter of the window's gradient: a 2× nearest upsampling
    // (ResizeNearestNeighbor: a native kernel on every backend; Tile was slow on wasm).
    const [, h, w] = dy.shape;
    const upsampled = tf.mul(tf.image.resizeNearestNeighbor(dy, [2 * h, 2 * w]), 0.25) as tf.Tensor4D;
    const padBottom = inputShape[1] - 2 * h;
    const padRight = inputShape[2] - 2 * w;
    if (padBottom === 0 && padRight === 0) return upsampled;
    return tf.pad(upsampled, [
      [0, 0],
      [0, padBottom],
      [0, padRight],
      [0, 0],
    ]);
  });
}

/** The gradient of 2×2 max pooling, from its input and output (TensorFlow.js's kernel on every backend). */
export function maxPoolBackward(dy: tf.Tensor4D, input: tf.Tensor4D, output: tf.Tensor4D): tf.Tensor4D {
  return tf.engine().runKernel(
    'MaxPoolGrad',
    { dy, input, output },
    { filterSize: 2, strides: 2, pad: 'valid' },
  ) as tf.Tensor4D;
}

/**
 * Gram matrix of one layer's features, normalised by the number of positions so that it is a mean of outer products
 * and does not grow with the image: G = Fᵀ·F / (H·W), with F the features flattened to [H·W, C].
 * (The paper writes F as C×HW and G = F·Fᵀ; NHWC storage makes ours its transpose, the same matrix.)
 * `custom` transposes F explicitly: wasm's BatchMatMul with a transposed operand is ~10× slower.
 */
export function gramMatrix(features: tf.Tensor4D, path: GradientPath): tf.Tensor2D {
  return tf.tidy(() => {
    const [, height, width, channels] = features.shape;
    const positions = height * width;
    const flat = tf.reshape(features, [positions, channels]) as tf.Tensor2D;
    const product = path === 'custom' ? tf.matMul(tf.transpose(flat), flat) : tf.matMul(flat, flat, true, false);
    return tf.div(product, positions);
  });
}

/** The gradient with respect to the features of a Gram matrix whose gradient is `dGram`: F·(dG + dGᵀ) / (H·W). */
export function gramBackward(features: tf.Tensor4D, dGram: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [, height, width, channels] = features.shape;
    const positions = height * width;
    const flat = tf.reshape(features, [positions, channels]) as tf.Tensor2D;
    const symmetric = tf.add(dGram, tf.transpose(dGram)) as tf.Tensor2D;
    return tf.reshape(tf.div(tf.matMul(flat, symmetric), positions), features.shape) as tf.Tensor4D;
  });
}

/** The path of each building block. Backends differ in which of their kernels are slow. */
export interface GradientPlan {
  readonly conv: GradientPath;
  readonly avgPool: GradientPath;
  readonly gram: GradientPath;
}

export const ALL_CUSTOM: GradientPlan = { conv: 'custom', avgPool: 'custom', gram: 'custom' };
export const ALL_STOCK: GradientPlan = { conv: 'stock', avgPool: 'stock', gram: 'stock' };

/**
 * The fastest plan on a backend, from per-block timings (bench/, wasm, 2-core x86):
 * - wasm: the custom convolution backward (~6×), Gram product (~10×) and pooling backward (~3×) are faster.
 * - cpu (plain JavaScript): custom and stock are within noise of each other; custom stays.
 * - native TensorFlow, WebGL, WebGPU: their own kernels.
 */
export function preferredGradientPath(backendName: string): GradientPlan {
  switch (backendName) {
    case 'tensorflow':
    case 'webgl':
    case 'webgpu':
      return ALL_STOCK;
    default:
      return ALL_CUSTOM;
  }
}

/** A single path for every block, or a plan. */
export function gradientPlan(choice: GradientPath | GradientPlan): GradientPlan {
  return typeof choice === 'string' ? { conv: choice, avgPool: choice, gram: choice } : choice;
}
