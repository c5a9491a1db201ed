import * as tf from '@tensorflow/tfjs-core';

/**
 * Colour math for preserving the content's colours (Gatys et al. 2017, "Controlling Perceptual Factors in Neural
 * Style Transfer", section 5): the YIQ colour space, whose Y is the luminance and I, Q the chrominance, and matching
 * an image's colour statistics to another's. Images are RGB 0–255, [1, H, W, 3], as float tensors.
 */

/** A 3×3 matrix, row by row. */
type Matrix3 = readonly (readonly number[])[];

/** RGB → YIQ (NTSC, FCC): Y is the luminance (weights summing to 1, so 0–255), I and Q sum to 0 over a grey. */
const RGB_TO_YIQ: Matrix3 = [
  [0.299, 0.587, 0.114],
  [0.595716, -0.274453, -0.321263],
  [0.211456, -0.522591, 0.311135],
];
/** Its exact inverse, so that a round trip returns the same colours. */
const YIQ_TO_RGB: Matrix3 = inverse3(RGB_TO_YIQ);

/** Applies a 3×3 matrix to every pixel's 3 channels: out_c = Σ_d m[c][d]·in_d (plus `offset`, if given). */
function transformPixels(image: tf.Tensor4D, matrix: Matrix3, offset?: readonly number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const [, height, width] = image.shape;
    const rows = tf.reshape(image, [height * width, 3]);
    let out = tf.matMul(rows, tf.tensor2d(matrix.map((row) => [...row])), false, true);
    if (offset) out = tf.add(out, tf.tensor1d([...offset]));
    return tf.reshape(out, [1, height, width, 3]);
  });
}

export function rgbToYiq(rgb: tf.Tensor4D): tf.Tensor4D {
  return transformPixels(rgb, RGB_TO_YIQ);
}

export function yiqToRgb(yiq: tf.Tensor4D): tf.Tensor4D {
  return transformPixels(yiq, YIQ_TO_RGB);
}

/** Y of YIQ: [1, H, W, 1], 0–255. */
export function luminance(rgb: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sum(tf.mul(rgb, tf.tensor1d([...RGB_TO_YIQ[0]!])), 3, true) as tf.Tensor4D);
}

/** Mean and standard deviation of a one-channel image. */
export interface LuminanceStatistics {
  readonly mean: number;
  readonly deviation: number;
}

export function luminanceStatistics(y: tf.Tensor4D): LuminanceStatistics {
  const { mean, variance } = tf.tidy(() => tf.moments(y));
  const [m, v] = [mean.dataSync()[0]!, variance.dataSync()[0]!];
  tf.dispose([mean, variance]);
  return { mean: m, deviation: Math.sqrt(v) };
}

/**
 * The style's luminance with the content's mean and standard deviation (Gatys et al. 2017: otherwise a dark style
 * on a light content would darken it). A flat style only moves to the content's mean.
 */
export function matchLuminance(styleY: tf.Tensor4D, content: LuminanceStatistics): tf.Tensor4D {
  const style = luminanceStatistics(styleY);
  // Below a hundredth of a grey level the style is flat: float32 noise is all its deviation would amplify.
  const gain = style.deviation > 1e-2 ? content.deviation / style.deviation : 0;
  return tf.tidy(() => tf.add(tf.mul(tf.sub(styleY, style.mean), gain), content.mean) as tf.Tensor4D);
}

/** Mean and covariance of the RGB values of an image's pixels. */
export interface ColorStatistics {
  readonly mean: readonly number[];
  readonly covariance: Matrix3;
}

export function colorStatistics(rgb: tf.Tensor4D): ColorStatistics {
  const [mean, covariance] = tf.tidy(() => {
    const [, height, width] = rgb.shape;
    const rows = tf.reshape(rgb, [height * width, 3]);
    const m = tf.mean(rows, 0);
    const centred = tf.sub(rows, m);
    return [m, tf.div(tf.matMul(centred, centred, true, false), height * width)];
  });
  const m = mean.dataSync();
  const c = covariance.dataSync();
  tf.dispose([mean, covariance]);
  return { mean: [m[0]!, m[1]!, m[2]!], covariance: [0, 1, 2].map((i) => [c[3 * i]!, c[3 * i + 1]!, c[3 * i + 2]!]) };
}

/**
 * Variance added to the style's covariance before it is inverted (in 0–255 units, where a photo's are in the
 * thousands): a style of one flat colour then maps to the content's mean instead of dividing by zero.
 */
const COVARIANCE_REGULARIZER = 1;

/**
 * The style image recoloured so that its RGB mean and covariance are the content's (Gatys et al. 2017, colour
 * histogram matching, after Hertzmann's image analogies): x' = A·(x − μ_S) + μ_C with A = Σ_C^½ · Σ_S^-½, the
 * symmetric square roots from the eigendecomposition. Clamped to 0–255: it is an image.
 */
export function matchColorStatistics(style: tf.Tensor4D, content: ColorStatistics): tf.Tensor4D {
  const source = colorStatistics(style);
  const regularized = source.covariance.map((row, i) => row.map((v, j) => v + (i === j ? COVARIANCE_REGULARIZER : 0)));
  const a = multiply3(symmetricPower3(content.covariance, 0.5), symmetricPower3(regularized, -0.5));
  const aMean = a.map((row) => row[0]! * source.mean[0]! + row[1]! * source.mean[1]! + row[2]! * source.mean[2]!);
  const offset = content.mean.map((m, i) => m - aMean[i]!);
  return tf.tidy(() => tf.clipByValue(transformPixels(style, a, offset), 0, 255) as tf.Tensor4D);
}

function multiply3(a: Matrix3, b: Matrix3): Matrix3 {
  return [0, 1, 2].map((i) => [0, 1, 2].map((j) => a[i]![0]! * b[0]![j]! + a[i]![1]! * b[1]![j]! + a[i]![2]! * b[2]![j]!));
}

function inverse3(m: Matrix3): Matrix3 {
  const at = (i: number, j: number) => m[i % 3]![j % 3]!;
  // With cyclic indices every cofactor is one 2×2 determinant, signs included.
  const cofactor = (i: number, j: number) => at(i + 1, j + 1) * at(i + 2, j + 2) - at(i + 1, j + 2) * at(i + 2, j + 1);
  const determinant = at(0, 0) * cofactor(0, 0) + at(0, 1) * cofactor(0, 1) + at(0, 2) * cofactor(0, 2);
  return [0, 1, 2].map((i) => [0, 1, 2].map((j) => cofactor(j, i) / determinant));
}

/** M^p of a symmetric positive semi-definite 3×3 matrix: V·diag(λ^p)·Vᵀ (eigenvalues below 0 count as 0). */
function symmetricPower3(m: Matrix3, power: number): Matrix3 {
  const { values, vectors } = symmetricEigen3(m);
  const scaled = values.map((lambda) => Math.max(lambda, 0) ** power);
  const entry = (i: number, j: number) => [0, 1, 2].reduce((sum, k) => sum + vectors[i]![k]! * scaled[k]! * vectors[j]![k]!, 0);
  return [0, 1, 2].map((i) => [0, 1, 2].map((j) => entry(i, j)));
}

/**
 * Eigenvalues and eigenvectors (the columns of `vectors`) of a symmetric 3×3 matrix, by cyclic Jacobi rotations:
 * each rotation zeroes one off-diagonal entry; a few sweeps bring them all below double precision.
 */
function symmetricEigen3(m: Matrix3): { values: number[]; vectors: number[][] } {
  const a = m.map((row) => [...row]);
  const v = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  for (let sweep = 0; sweep < 50; sweep++) {
    const offDiagonal = a[0]![1]! ** 2 + a[0]![2]! ** 2 + a[1]![2]! ** 2;
    if (offDiagonal < 1e-30 * (a[0]![0]! ** 2 + a[1]![1]! ** 2 + a[2]![2]! ** 2) || offDiagonal === 0) break;
    for (const [p, q] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ] as const) {
      if (a[p]![q] === 0) continue;
      const theta = (a[q]![q]! - a[p]![p]!) / (2 * a[p]![q]!);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      for (let k = 0; k < 3; k++) {
        const [akp, akq] = [a[k]![p]!, a[k]![q]!];
        a[k]![p] = c * akp - s * akq;
        a[k]![q] = s * akp + c * akq;
      }
      for (let k = 0; k < 3; k++) {
        const [apk, aqk] = [a[p]![k]!, a[q]![k]!];
        a[p]![k] = c * apk - s * aqk;
        a[q]![k] = s * apk + c * aqk;
      }
      for (let k = 0; k < 3; k++) {
        const [vkp, vkq] = [v[k]![p]!, v[k]![q]!];
        v[k]![p] = c * vkp - s * vkq;
        v[k]![q] = s * vkp + c * vkq;
      }
    }
  }
  return { values: [a[0]![0]!, a[1]![1]!, a[2]![2]!], vectors: v };
}
