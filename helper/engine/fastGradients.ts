import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients; the union package registers them all (tfjs-node depends on it too).
import '@tensorflow/tfjs';

/**
 * Differentiable building blocks of the style-transfer objective, in two flavours with equal gradients:
 *
 * - `custom`: hand-written gradients. On the wasm backend the stock Conv2DBackpropInput and the transposed
 *   BatchMatMul are slow; the backward pass of a 3×3 'same' convolution is itself a convolution with the kernel
 *   flipped and its in/out channels swapped, and the Gram product's gradient is one plain matMul.
 * - `stock`: TensorFlow.js's own autodiff, which native backends (TensorFlow C, CUDA) run well.
 *
 * test/fastGradients.test.ts proves both give the same gradient; test/fastPaths.test.ts that each backend's plan (which
 * mixes them, see preferredGradientPath) does too.
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
export function convRelu(x: tf.Tensor4D, layer: ConvLayerTensors, path: GradientPath): tf.Tensor4D {
  if (path === 'stock') {
    return tf.relu(tf.add(tf.conv2d(x, layer.kernel, 1, 'same'), layer.bias)) as tf.Tensor4D;
  }
  const op = tf.customGrad((input, save) => {
    const activation = tf.fused.conv2d({
      x: input as tf.Tensor4D,
      filter: layer.kernel,
      strides: 1,
      pad: 'same',
      bias: layer.bias,
      activation: 'relu',
    });
    // The gradient needs only where the output was positive, not the input (the transposed convolution does not
    // depend on it): a 1-byte mask. TensorFlow.js copies every saved tensor, on wasm byte for byte, so saving the
    // float activation cost a step a full copy of every layer and most of a 1024 px job's memory.
    (save as tf.GradSaveFunc)([tf.greater(activation, 0)]);
    return {
      value: activation,
      // Gradient functions run outside any per-op scope: without tidy, their temporaries would live until the
      // whole backward pass ends (at 256 px that had been over half of a step's peak memory).
      gradFunc: (dy, saved) =>
        tf.tidy(() => {
          const masked = tf.mul(dy, tf.cast(saved[0]!, 'float32'));
          return tf.conv2d(masked as tf.Tensor4D, layer.backwardKernel, 1, 'same');
        }),
    };
  });
  return op(x) as tf.Tensor4D;
}

/** 2×2 pooling with stride 2 ('valid': an odd last row or column is dropped, as in Keras' VGG-19). */
export function pool2x2(x: tf.Tensor4D, kind: 'avg' | 'max', path: GradientPath): tf.Tensor4D {
  if (kind === 'max') return tf.maxPool(x, 2, 2, 'valid');
  if (path === 'stock') return tf.avgPool(x, 2, 2, 'valid');
  const op = tf.customGrad((input) => {
    const value = tf.avgPool(input as tf.Tensor4D, 2, 2, 'valid');
    const [, height, width] = (input as tf.Tensor4D).shape;
    return {
      value,
      gradFunc: (dy) =>
        tf.tidy(() => {
          // Each input pixel of a window receives a quarter of the window's gradient: a 2× nearest upsampling
          // (ResizeNearestNeighbor: a native kernel on every backend; Tile was slow on wasm). Nothing is saved.
          const [, h, w] = dy.shape as [number, number, number, number];
          const upsampled = tf.mul(tf.image.resizeNearestNeighbor(dy as tf.Tensor4D, [2 * h, 2 * w]), 0.25);
          const padBottom = height - 2 * h;
          const padRight = width - 2 * w;
          return padBottom === 0 && padRight === 0
            ? upsampled
            : tf.pad(upsampled, [
                [0, 0],
                [0, padBottom],
                [0, padRight],
                [0, 0],
              ]);
        }),
    };
  });
  return op(x) as tf.Tensor4D;
}

/**
 * Gram matrix of one layer's features, normalised by the number of positions so that it is a mean of outer products
 * and does not grow with the image: G = Fᵀ·F / (H·W), with F the features flattened to [H·W, C].
 * (The paper writes F as C×HW and G = F·Fᵀ; NHWC storage makes ours its transpose, the same matrix.)
 */
export function gramMatrix(features: tf.Tensor4D, path: GradientPath): tf.Tensor2D {
  const [, height, width, channels] = features.shape;
  const positions = height * width;
  const flat = tf.reshape(features, [positions, channels]) as tf.Tensor2D;
  if (path === 'stock') {
    return tf.div(tf.matMul(flat, flat, true, false), positions);
  }
  const op = tf.customGrad((input, save) => {
    const m = input as tf.Tensor2D;
    (save as tf.GradSaveFunc)([m]);
    return {
      value: tf.div(tf.matMul(tf.transpose(m), m), positions) as tf.Tensor2D,
      // d(FᵀF)/dF applied to dG is F·(dG + dGᵀ).
      gradFunc: (dy, saved) =>
        tf.tidy(() => tf.div(tf.matMul(saved[0] as tf.Tensor2D, tf.add(dy, tf.transpose(dy))), positions)),
    };
  });
  return op(flat) as tf.Tensor2D;
}

/** The gradient path of each building block. Backends differ in which of their kernels are slow. */
export interface GradientPlan {
  readonly conv: GradientPath;
  readonly avgPool: GradientPath;
  readonly gram: GradientPath;
}

export const ALL_CUSTOM: GradientPlan = { conv: 'custom', avgPool: 'custom', gram: 'custom' };
export const ALL_STOCK: GradientPlan = { conv: 'stock', avgPool: 'stock', gram: 'stock' };

/**
 * The fastest plan on a backend, from per-block forward + backward timings (bench/, wasm, 2-core x86):
 * - wasm: the stock Conv2DBackpropInput is ~6× and the transposed BatchMatMul ~10× slower than the custom
 *   formulations; the stock AvgPoolGrad is ~3× slower than the custom nearest-neighbour spreading, which also saves
 *   nothing for the backward pass. (The first custom pooling gradient, built on Tile, had been 4× slower than stock
 *   and over a tenth of a step.)
 * - cpu (plain JavaScript): custom and stock are within noise of each other; custom stays.
 * - native TensorFlow, WebGL, WebGPU: their own gradient kernels.
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
