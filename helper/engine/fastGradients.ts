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
 * test/fastGradients.test.ts proves both give the same gradient.
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
    const saveForGradient = save as tf.GradSaveFunc;
    const activation = tf.fused.conv2d({
      x: input as tf.Tensor4D,
      filter: layer.kernel,
      strides: 1,
      pad: 'same',
      bias: layer.bias,
      activation: 'relu',
    });
    saveForGradient([activation]);
    return {
      value: activation,
      gradFunc: (dy, saved) => {
        // relu passes the gradient where its output was positive; then the transposed convolution.
        const masked = tf.mul(dy, tf.step(saved[0]!));
        return tf.conv2d(masked as tf.Tensor4D, layer.backwardKernel, 1, 'same');
      },
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
      gradFunc: (dy) => {
        // Each input pixel of a window receives a quarter of the window's gradient: a 2× nearest upsampling.
        const [, h, w, c] = dy.shape as [number, number, number, number];
        const spread = tf.mul(tf.tile(tf.reshape(dy, [1, h, 1, w, 1, c]), [1, 1, 2, 1, 2, 1]), 0.25);
        const upsampled = tf.reshape(spread, [1, 2 * h, 2 * w, c]);
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
      },
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
      gradFunc: (dy, saved) => tf.div(tf.matMul(saved[0] as tf.Tensor2D, tf.add(dy, tf.transpose(dy))), positions),
    };
  });
  return op(flat) as tf.Tensor2D;
}

/** The path that is fastest on a backend: custom gradients where stock kernels are slow (wasm, cpu). */
export function preferredGradientPath(backendName: string): GradientPath {
  return backendName === 'tensorflow' || backendName === 'webgl' || backendName === 'webgpu' ? 'stock' : 'custom';
}
