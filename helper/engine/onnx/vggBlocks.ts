import type { Pooling } from '../gatysNetwork.js';
import type { ConvWeights, VggConvLayerSpec } from '../vggLayers.js';
import { ElementType, type OnnxGraphBuilder } from './graphBuilder.js';
import { winogradConv3x3, winogradKernel } from './winogradConvolution.js';

/**
 * VGG-19's building blocks as ONNX nodes, each forward pass next to its backward pass (as fastGradients.ts has them
 * for TensorFlow.js): gatysGraphs.ts chains them along the layer plan. Tensors are NCHW, batch 1; H and W are
 * symbolic, so one model serves every image size.
 */

// ---- 3×3 convolution with ReLU ----

/**
 * How the objective's 3×3 convolutions are computed: `direct` is ONNX's Conv (GPU providers pick their own
 * algorithm for it); `winograd` computes the deep layers with Winograd's F(4×4, 3×3) (winogradConvolution.ts), for
 * the CPU provider, which runs Conv directly.
 */
export type ConvolutionAlgorithm = 'direct' | 'winograd';

/**
 * Winograd pays off where both sides have at least this many channels (conv3_2 … conv5_1, forward and backward):
 * 1.2–1.7× less time than Conv on 256 and 512 channels, 0.8–0.9× on 128 (2 cores with AVX-512, onnxruntime 1.30).
 */
const WINOGRAD_MIN_CHANNELS = 256;

/** A 3×3 convolution's kernel as stored in the model, for the algorithm that runs it. */
interface StoredKernel {
  readonly algorithm: ConvolutionAlgorithm;
  /** OIHW [out, in, 3, 3] for `direct`, transformed for `winograd`. */
  readonly name: string;
  readonly outChannels: number;
  readonly inChannels: number;
}

function storeKernel(g: OnnxGraphBuilder, oihw: Float32Array, outChannels: number, inChannels: number, algorithm: ConvolutionAlgorithm, name: string): StoredKernel {
  const winograd = algorithm === 'winograd' && Math.min(outChannels, inChannels) >= WINOGRAD_MIN_CHANNELS;
  return winograd
    ? { algorithm: 'winograd', name: winogradKernel(g, oihw, outChannels, inChannels, name), outChannels, inChannels }
    : { algorithm: 'direct', name: g.floatInitializer(name, oihw, [outChannels, inChannels, 3, 3]), outChannels, inChannels };
}

/** The 'same' convolution of x with a stored kernel, with the bias (float [out]) added when given. */
function convolve(g: OnnxGraphBuilder, x: string, kernel: StoredKernel, bias: string | null, name: string): string {
  if (kernel.algorithm === 'direct') {
    return g.node('Conv', bias ? [x, kernel.name, bias] : [x, kernel.name], name, { pads: [1, 1, 1, 1], kernel_shape: [3, 3] });
  }
  const convolved = winogradConv3x3(g, x, kernel.name, kernel.outChannels, kernel.inChannels, name);
  if (!bias) return convolved;
  const perChannel = g.node('Reshape', [bias, g.int64Initializer(`bias_shape_${kernel.outChannels}`, [1, kernel.outChannels, 1, 1])], `${name}_bias`);
  return g.node('Add', [convolved, perChannel], `${name}_biased`);
}

/** What the backward pass of one convolution needs: where its output was positive (bool, 1 byte a value). */
export interface ConvRecord {
  readonly kind: 'conv';
  readonly layer: string;
  readonly positive: string;
  /** The kernel rotated by 180° with in/out swapped (OIHW [in, out, 3, 3] before any transform). */
  readonly backwardKernel: StoredKernel;
}

export function convReluForward(
  g: OnnxGraphBuilder,
  x: string,
  spec: VggConvLayerSpec,
  weights: ConvWeights,
  withBackward: boolean,
  algorithm: ConvolutionAlgorithm,
): { output: string; record: ConvRecord | null } {
  const { inChannels, outChannels } = spec;
  const kernel = storeKernel(g, oihwKernel(weights.kernel, spec), outChannels, inChannels, algorithm, `W_${spec.name}`);
  const bias = g.floatInitializer(`b_${spec.name}`, weights.bias, [outChannels]);
  const output = g.node('Relu', [convolve(g, x, kernel, bias, `pre_${spec.name}`)], `relu_${spec.name}`);
  if (!withBackward) return { output, record: null };
  // Only the mask outlives the layer: the float activation is freed once the next layer has read it.
  const positive = g.node('Greater', [output, g.scalar(0)], `positive_${spec.name}`);
  const backwardKernel = storeKernel(g, backwardOihwKernel(weights.kernel, spec), inChannels, outChannels, algorithm, `Wback_${spec.name}`);
  return { output, record: { kind: 'conv', layer: spec.name, positive, backwardKernel } };
}

/**
 * The gradient at the convolution's input from the gradient `dy` at its ReLU's output. The transposed convolution
 * of a 3×3 'same' convolution is a convolution with the kernel flipped and its channels swapped: onnxruntime's CPU
 * provider runs that 20–45% faster than ConvTranspose with the forward kernel (../shared/bench probe). The mask is
 * applied as a product with the mask cast to float: onnxruntime's Where took twice as long as Cast and Mul together.
 */
export function convReluBackward(g: OnnxGraphBuilder, dy: string, record: ConvRecord): string {
  const masked = g.node('Mul', [dy, g.node('Cast', [record.positive], `positive_float_${record.layer}`, { to: ElementType.float })], `dpre_${record.layer}`);
  return convolve(g, masked, record.backwardKernel, null, `dinput_${record.layer}`);
}

/** HWIO [3, 3, in, out] (the Keras file's layout) → OIHW [out, in, 3, 3] (ONNX's). */
function oihwKernel(hwio: Float32Array, spec: VggConvLayerSpec): Float32Array {
  const { inChannels: cin, outChannels: cout } = spec;
  const oihw = new Float32Array(hwio.length);
  for (let kh = 0; kh < 3; kh++) {
    for (let kw = 0; kw < 3; kw++) {
      for (let i = 0; i < cin; i++) {
        for (let o = 0; o < cout; o++) oihw[((o * cin + i) * 3 + kh) * 3 + kw] = hwio[((kh * 3 + kw) * cin + i) * cout + o]!;
      }
    }
  }
  return oihw;
}

/** HWIO [3, 3, in, out] → the backward kernel, OIHW [in, out, 3, 3] rotated by 180°. */
function backwardOihwKernel(hwio: Float32Array, spec: VggConvLayerSpec): Float32Array {
  const { inChannels: cin, outChannels: cout } = spec;
  const flipped = new Float32Array(hwio.length);
  for (let kh = 0; kh < 3; kh++) {
    for (let kw = 0; kw < 3; kw++) {
      for (let i = 0; i < cin; i++) {
        for (let o = 0; o < cout; o++) {
          flipped[((i * cout + o) * 3 + (2 - kh)) * 3 + (2 - kw)] = hwio[((kh * 3 + kw) * cin + i) * cout + o]!;
        }
      }
    }
  }
  return flipped;
}

// ---- 2×2 pooling, stride 2 ('valid': an odd last row or column is dropped, as in Keras' VGG-19) ----

export interface PoolRecord {
  readonly kind: 'pool';
  readonly pooling: Pooling;
  /** The shape of the pool's input, int64 [4]. */
  readonly inputShape: string;
  /** Max pooling: the flat index in the input of each output's maximum. */
  readonly indices: string | null;
}

export function poolForward(
  g: OnnxGraphBuilder,
  x: string,
  pooling: Pooling,
  withBackward: boolean,
): { output: string; record: PoolRecord | null } {
  const attributes = { kernel_shape: [2, 2], strides: [2, 2] };
  if (pooling === 'avg') {
    const output = g.node('AveragePool', [x], 'avgpool', attributes);
    return { output, record: withBackward ? { kind: 'pool', pooling, inputShape: g.node('Shape', [x], 'pool_input_shape'), indices: null } : null };
  }
  if (!withBackward) return { output: g.node('MaxPool', [x], 'maxpool', attributes), record: null };
  const [output, indices] = g.nodeWithOutputs('MaxPool', [x], ['maxpool', 'maxpool_indices'], attributes);
  return { output: output!, record: { kind: 'pool', pooling, inputShape: g.node('Shape', [x], 'pool_input_shape'), indices: indices! } };
}

export function poolBackward(g: OnnxGraphBuilder, dy: string, record: PoolRecord): string {
  if (record.pooling === 'avg') {
    // Each input of a window gets a quarter of the window's gradient: a 2× nearest upsampling, padded back to the
    // input's size where pooling dropped an odd row or column.
    const scales = g.sharedFloatInitializer('upsample_scales', () => new Float32Array([1, 1, 2, 2]), [4]);
    const upsampled = g.node('Resize', [dy, '', scales], 'avgpool_upsampled', {
      mode: 'nearest',
      coordinate_transformation_mode: 'asymmetric',
      nearest_mode: 'floor',
    });
    const quarter = g.node('Mul', [upsampled, g.scalar(0.25)], 'avgpool_dinput_unpadded');
    return padToShape(g, quarter, record.inputShape);
  }
  // Max pooling: each window's gradient goes to its maximum (the first one, on ties, as TensorFlow's kernel does),
  // scattered by the flat indices MaxPool reported. The windows do not overlap, so no index repeats.
  const count = g.node('ReduceProd', [record.inputShape], 'maxpool_input_size', { keepdims: 1 });
  const zeros = g.node('ConstantOfShape', [count], 'maxpool_zeros');
  const flatShape = g.int64Initializer('flat_shape', [-1]);
  const indices = g.node('Reshape', [record.indices!, flatShape], 'maxpool_flat_indices');
  const updates = g.node('Reshape', [dy, flatShape], 'maxpool_flat_dy');
  const scattered = g.node('ScatterElements', [zeros, indices, updates], 'maxpool_dinput_flat', { axis: 0 });
  return g.node('Reshape', [scattered, record.inputShape], 'maxpool_dinput');
}

/** Pads `x` at the bottom and right to `shape` (int64 [4]; never smaller than x). */
function padToShape(g: OnnxGraphBuilder, x: string, shape: string): string {
  const missing = g.node('Sub', [shape, g.node('Shape', [x], 'padded_shape')], 'missing_rows_cols');
  const pads = g.node('Concat', [g.int64Initializer('no_pads', [0, 0, 0, 0]), missing], 'pads', { axis: 0 });
  return g.node('Pad', [x, pads], 'padded');
}

// ---- Gram matrix ----

/**
 * G = F·Fᵀ / (H·W), F the features flattened to [C, H·W]: the same matrix as the TensorFlow.js path's Fᵀ·F / (H·W)
 * over NHWC features, so targets computed by either backend serve both.
 */
export function gramForward(g: OnnxGraphBuilder, features: string, channels: number, layer: string): GramRecord {
  const flat = g.node('Reshape', [features, g.int64Initializer(`gram_flat_${layer}`, [channels, -1])], `F_${layer}`);
  const positions = g.node('Cast', [g.node('Shape', [flat], `positions_int_${layer}`, { start: 1, end: 2 })], `positions_${layer}`, {
    to: 1, // FLOAT
  });
  const product = g.node('MatMul', [flat, g.node('Transpose', [flat], `Ft_${layer}`, { perm: [1, 0] })], `FFt_${layer}`);
  const gram = g.node('Div', [product, positions], `gram_${layer}`);
  return { gram, flat, positions, featureShape: g.node('Shape', [features], `feature_shape_${layer}`), layer };
}

export interface GramRecord {
  readonly layer: string;
  readonly gram: string;
  readonly flat: string;
  readonly positions: string;
  readonly featureShape: string;
}

/** The gradient at the features from the Gram matrix's gradient: (dG + dGᵀ)·F / (H·W), in the features' shape. */
export function gramBackward(g: OnnxGraphBuilder, dGram: string, record: GramRecord): string {
  const { layer } = record;
  const symmetric = g.node('Add', [dGram, g.node('Transpose', [dGram], `dGt_${layer}`, { perm: [1, 0] })], `dGsym_${layer}`);
  const flatGradient = g.node('Div', [g.node('MatMul', [symmetric, record.flat], `dFflat_${layer}`), record.positions], `dFscaled_${layer}`);
  return g.node('Reshape', [flatGradient, record.featureShape], `dfeatures_${layer}`);
}
