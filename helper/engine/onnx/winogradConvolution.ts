import type { OnnxGraphBuilder } from './graphBuilder.js';

/**
 * A 3×3 'same' convolution as Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray, CVPR 2016): each 4×4 block of
 * the output costs 36 multiplications per input and output channel instead of 144. onnxruntime's CPU provider runs
 * a direct convolution close to the processor's peak, so only fewer multiplications make it faster; on 256 and 512
 * channels this form took 1.2–1.7× less time than `Conv` (2 cores with AVX-512, onnxruntime 1.30), on 64 and 128
 * channels more time (the transforms move the data several times), which is why the layer plan uses it only on the
 * deep layers (vggBlocks.ts). Rounding differs from a direct convolution by about 1e-6 relative per layer.
 *
 * Written with standard operators so that it stays one graph: the input transform is a fixed 6×6 convolution with
 * stride 4 that treats each channel as an image of its own (it gathers the overlapping tiles and transforms them in
 * one pass), the products are one batched MatMul over the 36 transformed positions, and the output transform is a
 * fixed 4×4 transposed convolution with stride 4 that also puts each tile's 16 values back in place.
 */

/** Bᵀ, G and Aᵀ of F(4, 3) with the points 0, ±1, ±2 and ∞. */
const INPUT_TRANSFORM = [
  [4, 0, -5, 0, 1, 0],
  [0, -4, -4, 1, 1, 0],
  [0, 4, -4, -1, 1, 0],
  [0, -2, -1, 2, 1, 0],
  [0, 2, -1, -2, 1, 0],
  [0, 4, 0, -5, 0, 1],
];
const KERNEL_TRANSFORM = [
  [1 / 4, 0, 0],
  [-1 / 6, -1 / 6, -1 / 6],
  [-1 / 6, 1 / 6, -1 / 6],
  [1 / 24, 1 / 12, 1 / 6],
  [1 / 24, -1 / 12, 1 / 6],
  [0, 0, 1],
];
const OUTPUT_TRANSFORM = [
  [1, 1, 1, 1, 1, 0],
  [0, 1, -1, 2, -2, 0],
  [0, 1, 1, 4, 4, 0],
  [0, 1, -1, 8, -8, 1],
];
/** Transformed positions per tile (6 × 6) and outputs per tile side. */
const POSITIONS = 36;
const TILE = 4;

/** The kernel (OIHW [out, in, 3, 3]) transformed for winogradConv3x3, stored in the model; returns its name. */
export function winogradKernel(g: OnnxGraphBuilder, kernel: Float32Array, outChannels: number, inChannels: number, name: string): string {
  return g.floatInitializer(`winograd_U_${name}`, transformedKernel(kernel, outChannels, inChannels), [POSITIONS, outChannels, inChannels]);
}

/**
 * The convolution of `x` (NCHW, batch 1, any H and W) with a kernel from winogradKernel: a cross-correlation with one
 * pixel of zero padding, as ONNX's Conv, without bias. `name` prefixes the nodes.
 */
export function winogradConv3x3(g: OnnxGraphBuilder, x: string, transformed: string, outChannels: number, inChannels: number, name: string): string {
  const inputTransform = g.sharedFloatInitializer('winograd_input_transform', inputTransformKernel, [POSITIONS, 1, 6, 6]);
  const outputTransform = g.sharedFloatInitializer('winograd_output_transform', outputTransformKernel, [POSITIONS, 1, TILE, TILE]);
  // [1, C, H, W] → [C, 1, H, W] → [C, 36, ⌈H/4⌉, ⌈W/4⌉]. Padding 1 before and 4 after covers every H and W: the
  // stride-4 windows then number ⌈H/4⌉.
  const perChannel = g.node('Reshape', [x, g.int64Initializer('winograd_channels_as_images', [-1, 1, 0, 0])], `winograd_images_${name}`);
  const tiles = g.node('Conv', [perChannel, inputTransform], `winograd_V_${name}`, { kernel_shape: [6, 6], strides: [TILE, TILE], pads: [1, 1, 4, 4] });
  const byPosition = g.node('Transpose', [tiles], `winograd_Vt_${name}`, { perm: [1, 0, 2, 3] });
  const tileCounts = g.node('Shape', [byPosition], `winograd_tile_counts_${name}`, { start: 2 });
  const flatTiles = g.node('Reshape', [byPosition, g.int64Initializer(`winograd_flat_${inChannels}`, [POSITIONS, inChannels, -1])], `winograd_V3_${name}`);
  // [36, out, in] × [36, in, tiles] → [36, out, tiles]
  const products = g.node('MatMul', [transformed, flatTiles], `winograd_M_${name}`);
  const productsShape = g.node('Concat', [g.int64Initializer(`winograd_positions_${outChannels}`, [POSITIONS, outChannels]), tileCounts], `winograd_M_shape_${name}`, {
    axis: 0,
  });
  const perOutputChannel = g.node('Transpose', [g.node('Reshape', [products, productsShape], `winograd_M4_${name}`)], `winograd_Mt_${name}`, { perm: [1, 0, 2, 3] });
  // [out, 36, th, tw] → [out, 1, 4·th, 4·tw] → [1, out, 4·th, 4·tw], cropped to H × W.
  const untiled = g.node('ConvTranspose', [perOutputChannel, outputTransform], `winograd_Y_${name}`, { kernel_shape: [TILE, TILE], strides: [TILE, TILE] });
  const batched = g.node('Reshape', [untiled, g.int64Initializer('winograd_one_image', [1, -1, 0, 0])], `winograd_Y4_${name}`);
  const inputSize = g.node('Shape', [x], `winograd_input_size_${name}`, { start: 2 });
  return g.node(
    'Slice',
    [batched, g.int64Initializer('winograd_crop_start', [0, 0]), inputSize, g.int64Initializer('winograd_crop_axes', [2, 3])],
    `winograd_out_${name}`,
  );
}

/** U = G·g·Gᵀ for every (out, in) pair, laid out [36, out, in] for the batched MatMul. */
function transformedKernel(kernel: Float32Array, outChannels: number, inChannels: number): Float32Array {
  const transformed = new Float32Array(POSITIONS * outChannels * inChannels);
  const pairStride = outChannels * inChannels;
  const half = new Float64Array(6 * 3);
  for (let o = 0; o < outChannels; o++) {
    for (let i = 0; i < inChannels; i++) {
      const base = (o * inChannels + i) * 9;
      // half = G·g (6 × 3), then U = half·Gᵀ (6 × 6), in double precision.
      for (let p = 0; p < 6; p++) {
        for (let v = 0; v < 3; v++) {
          let sum = 0;
          for (let u = 0; u < 3; u++) sum += KERNEL_TRANSFORM[p]![u]! * kernel[base + u * 3 + v]!;
          half[p * 3 + v] = sum;
        }
      }
      for (let p = 0; p < 6; p++) {
        for (let q = 0; q < 6; q++) {
          let sum = 0;
          for (let v = 0; v < 3; v++) sum += half[p * 3 + v]! * KERNEL_TRANSFORM[q]![v]!;
          transformed[(p * 6 + q) * pairStride + o * inChannels + i] = sum;
        }
      }
    }
  }
  return transformed;
}

/** Position (p, q) of a tile's transform, Σ Bᵀ[p][r]·Bᵀ[q][s]·d[r][s], as a 6×6 correlation kernel [36, 1, 6, 6]. */
function inputTransformKernel(): Float32Array {
  const kernel = new Float32Array(POSITIONS * 36);
  for (let p = 0; p < 6; p++) {
    for (let q = 0; q < 6; q++) {
      for (let r = 0; r < 6; r++) {
        for (let s = 0; s < 6; s++) kernel[(p * 6 + q) * 36 + r * 6 + s] = INPUT_TRANSFORM[p]![r]! * INPUT_TRANSFORM[q]![s]!;
      }
    }
  }
  return kernel;
}

/** Output (a, b) of a tile, Σ Aᵀ[a][p]·Aᵀ[b][q]·m[p][q], as a transposed-convolution kernel [36, 1, 4, 4]. */
function outputTransformKernel(): Float32Array {
  const kernel = new Float32Array(POSITIONS * TILE * TILE);
  for (let p = 0; p < 6; p++) {
    for (let q = 0; q < 6; q++) {
      for (let a = 0; a < TILE; a++) {
        for (let b = 0; b < TILE; b++) kernel[((p * 6 + q) * TILE + a) * TILE + b] = OUTPUT_TRANSFORM[a]![p]! * OUTPUT_TRANSFORM[b]![q]!;
      }
    }
  }
  return kernel;
}
