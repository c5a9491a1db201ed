import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  colorStatistics,
  luminance,
  luminanceStatistics,
  matchColorStatistics,
  matchLuminance,
  rgbToYiq,
  yiqToRgb,
  type ColorStatistics,
} from '../helper/engine/color.js';
import { imageToTensor } from '../helper/engine/rgbImage.js';
import { loadSharedImage } from './support/sharedAssets.js';
import { relativeError } from './support/tensorMath.js';
import { useTestBackend } from './support/tfBackend.js';

let photo: tf.Tensor4D;
let painting: tf.Tensor4D;

beforeAll(async () => {
  await useTestBackend();
  photo = imageToTensor(await loadSharedImage('golden_gate.jpg', 64));
  painting = imageToTensor(await loadSharedImage('starry_night.jpg', 64));
});

/** Largest absolute difference between two lists of numbers. */
function largestDifference(a: readonly number[], b: readonly number[]): number {
  return Math.max(...a.map((value, i) => Math.abs(value - b[i]!)));
}

describe('YIQ', () => {
  it('round-trips RGB, gives a grey no chrominance, and takes Y as the luminance', () => {
    const before = tf.memory().numTensors;
    const back = tf.tidy(() => yiqToRgb(rgbToYiq(photo)));
    expect(largestDifference([...back.dataSync()], [...photo.dataSync()])).toBeLessThan(1e-3);
    const grey = tf.tidy(() => rgbToYiq(tf.fill([1, 2, 2, 3], 200) as tf.Tensor4D));
    const [y, i, q] = grey.dataSync();
    expect([y, i, q].map((value) => Math.round(value! * 1000) / 1000)).toEqual([200, 0, 0]);
    const yChannel = tf.tidy(() => tf.slice(rgbToYiq(photo), [0, 0, 0, 0], [-1, -1, -1, 1]));
    const y2 = luminance(photo);
    expect(y2.shape).toEqual([1, photo.shape[1], photo.shape[2], 1]);
    expect(largestDifference([...y2.dataSync()], [...yChannel.dataSync()])).toBeLessThan(1e-3);
    tf.dispose([back, grey, yChannel, y2]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('matching colours', () => {
  it("gives the style's luminance the content's mean and deviation", () => {
    const before = tf.memory().numTensors;
    const [photoY, paintingY] = [luminance(photo), luminance(painting)];
    const content = luminanceStatistics(photoY);
    const matched = matchLuminance(paintingY, content);
    const result = luminanceStatistics(matched);
    expect(Math.abs(luminanceStatistics(paintingY).mean - content.mean)).toBeGreaterThan(10);
    expect(result.mean).toBeCloseTo(content.mean, 2);
    expect(result.deviation).toBeCloseTo(content.deviation, 2);
    tf.dispose([photoY, paintingY, matched]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("gives the style image the content's RGB mean and covariance", () => {
    const before = tf.memory().numTensors;
    const covarianceDistance = (stats: ColorStatistics, target: ColorStatistics): number =>
      relativeError(stats.covariance.flat(), target.covariance.flat());
    const original = colorStatistics(painting);
    // A target the recoloured painting reaches without leaving 0–255: matched exactly (up to the regularizer).
    const softer = tf.tidy(() => tf.add(tf.mul(photo, 0.5), 64) as tf.Tensor4D);
    const softTarget = colorStatistics(softer);
    const softMatched = matchColorStatistics(painting, softTarget);
    const soft = colorStatistics(softMatched);
    expect(largestDifference(soft.mean, softTarget.mean)).toBeLessThan(1e-2);
    expect(covarianceDistance(soft, softTarget)).toBeLessThan(1e-3);
    // The photo itself: 5% of the values land beyond 0–255 and are clamped, which moves the statistics a little:
    // from 44 grey levels away in the mean and 54% off in the covariance to within 2 and 6%.
    const target = colorStatistics(photo);
    const matched = matchColorStatistics(painting, target);
    const result = colorStatistics(matched);
    expect(largestDifference(original.mean, target.mean)).toBeGreaterThan(40);
    expect(covarianceDistance(original, target)).toBeGreaterThan(0.5);
    expect(largestDifference(result.mean, target.mean)).toBeLessThan(2);
    expect(covarianceDistance(result, target)).toBeLessThan(0.06);
    tf.dispose([softer, softMatched, matched]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('maps a flat style image to the content mean instead of dividing by zero', () => {
    const flat = tf.fill([1, 8, 8, 3], 90) as tf.Tensor4D;
    const target = colorStatistics(photo);
    const matched = matchColorStatistics(flat, target);
    const values = [...matched.dataSync()];
    expect(values.every(Number.isFinite)).toBe(true);
    expect(largestDifference(colorStatistics(matched).mean, target.mean)).toBeLessThan(1e-2);
    const [flatY, photoY] = [luminance(flat), luminance(photo)];
    const flatMatched = matchLuminance(flatY, luminanceStatistics(photoY));
    const flatResult = luminanceStatistics(flatMatched);
    expect(flatResult.mean).toBeCloseTo(luminanceStatistics(photoY).mean, 3);
    expect(flatResult.deviation).toBeLessThan(1e-3);
    tf.dispose([flat, matched, flatY, photoY, flatMatched]);
  });
});
