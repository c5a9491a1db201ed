import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  makeLossTarget,
  relativeSquaredError,
  totalVariationLoss,
  weightedStyleLoss,
} from '../helper/engine/tfjs/losses.js';
import { styleRatioForStrength } from '../helper/engine/strength.js';
import { useTestBackend } from './support/tfBackend.js';

const scalar = (t: tf.Tensor): number => {
  const [value] = t.dataSync();
  t.dispose();
  return value!;
};

describe('loss terms', () => {
  beforeAll(async () => {
    await useTestBackend();
  });

  it('relative squared error is ‖a − t‖² / ‖t‖²', () => {
    const target = makeLossTarget(tf.tensor([1, 2, 2]));
    // (3−1)² + (2−2)² + (0−2)² = 8; ‖t‖² = 9
    expect(scalar(relativeSquaredError(tf.tensor([3, 2, 0]), target))).toBeCloseTo(8 / 9, 6);
    expect(scalar(relativeSquaredError(tf.tensor([1, 2, 2]), target))).toBe(0);
  });

  it('content loss does not change when the features are scaled up in size (normalised by the target)', () => {
    const small = makeLossTarget(tf.tensor([1, 2]));
    const large = makeLossTarget(tf.tensor([1, 2, 1, 2, 1, 2, 1, 2]));
    const errorSmall = scalar(relativeSquaredError(tf.tensor([0, 2]), small));
    const errorLarge = scalar(relativeSquaredError(tf.tensor([0, 2, 0, 2, 0, 2, 0, 2]), large));
    expect(errorSmall).toBeCloseTo(0.2, 6);
    expect(errorLarge).toBeCloseTo(errorSmall, 6);
  });

  it('style loss is the weighted mean of the layer losses', () => {
    const layers = [tf.scalar(1), tf.scalar(2), tf.scalar(4)];
    // (1·1 + 0·2 + 3·4) / (1 + 0 + 3) = 13 / 4
    expect(scalar(weightedStyleLoss(layers, [1, 0, 3]))).toBeCloseTo(13 / 4, 6);
  });

  it('total variation is the mean squared neighbour difference over 255²', () => {
    // 2×2 single-channel image [[0, 255], [255, 255]]: right diffs (255, 0), down diffs (255, 0)
    const image = tf.tensor4d([0, 255, 255, 255], [1, 2, 2, 1]);
    expect(scalar(totalVariationLoss(image))).toBeCloseTo(0.5 + 0.5, 6);
    expect(scalar(totalVariationLoss(tf.fill([1, 3, 3, 3], 7) as tf.Tensor4D))).toBe(0);
  });
});

describe('style strength', () => {
  it('maps 0 to no style at all and grows geometrically up to 100', () => {
    expect(styleRatioForStrength(0)).toBe(0);
    expect(styleRatioForStrength(1)).toBeGreaterThan(0);
    const ratios = [10, 30, 50, 70, 90].map(styleRatioForStrength);
    const steps = ratios.slice(1).map((r, i) => r / ratios[i]!);
    for (const step of steps) expect(step).toBeCloseTo(steps[0]!, 6);
    expect(styleRatioForStrength(100)).toBeGreaterThan(styleRatioForStrength(99));
  });

  it('rejects strengths outside 0–100', () => {
    expect(() => styleRatioForStrength(-1)).toThrow(/0–100/);
    expect(() => styleRatioForStrength(101)).toThrow(/0–100/);
    expect(() => styleRatioForStrength(Number.NaN)).toThrow(/0–100/);
  });
});
