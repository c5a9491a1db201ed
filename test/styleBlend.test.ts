import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stylizeOptionsSchema, type StylizeOptionsInput } from '../shared/stylizeOptions.js';
import {
  distanceJudge,
  StyleTransfer,
  type GatysNetwork,
  type RgbImage,
  type StyleGrams,
  type StyleTargetCache,
  type VggWeights,
  type WeightedStyle,
} from '../helper/engine/index.js';
import { toNetworkInput } from '../helper/engine/networkInput.js';
import { imageToTensor } from '../helper/engine/rgbImage.js';
import { readVggWeightsFile } from '../helper/weights/vggH5.js';
import { createTestNetwork, TEST_NETWORKS } from './support/networks.js';
import { loadSharedImage, realWeightsPath } from './support/sharedAssets.js';
import { relativeError } from './support/tensorMath.js';

const SIZE = 64;

let weights: VggWeights;
let content: RgbImage;
let starryNight: RgbImage;
let scream: RgbImage;

beforeAll(async () => {
  weights = await readVggWeightsFile(realWeightsPath());
  content = await loadSharedImage('golden_gate.jpg', SIZE);
  starryNight = await loadSharedImage('starry_night.jpg', SIZE);
  scream = await loadSharedImage('the_scream.jpg', SIZE);
});

/** A Gram cache as the helper keeps one, counting what it computes; clear() frees it. */
function countingCache(): StyleTargetCache & { computed: string[]; clear(): void } {
  const entries = new Map<string, StyleGrams>();
  const computed: string[] = [];
  const cache = async (style: number, key: string, compute: () => Promise<StyleGrams>): Promise<StyleGrams> => {
    const fullKey = `${style}:${key}`;
    if (!entries.has(fullKey)) {
      computed.push(fullKey);
      entries.set(fullKey, await compute());
    }
    return entries.get(fullKey)!;
  };
  const clear = (): void => {
    for (const grams of entries.values()) tf.dispose([...grams]);
    entries.clear();
  };
  return Object.assign(cache, { computed, clear });
}

describe.each(TEST_NETWORKS)('blending several styles on %s (real VGG-19, 64 px)', (kind) => {
  let network: GatysNetwork;
  let transfer: StyleTransfer;

  beforeAll(async () => {
    network = await createTestNetwork(kind, weights);
    transfer = new StyleTransfer(network);
  });

  afterAll(() => network?.dispose());

  const stylize = (styles: readonly WeightedStyle[], options: StylizeOptionsInput, styleTargetCache?: StyleTargetCache) =>
    transfer.run({ content, styles, styleTargetCache, options: stylizeOptionsSchema.parse({ size: SIZE, ...options }) });

  it('targets Σ wₖ·Gₖ / Σ wₖ, from Grams cached per style image: other weights recompute nothing', async () => {
    const before = tf.memory().numTensors;
    const targets: number[][] = [];
    const recording: GatysNetwork = {
      contentFeatures: (image, pooling) => network.contentFeatures(image, pooling),
      styleGrams: (image, pooling) => network.styleGrams(image, pooling),
      objective: (bound, objectiveWeights, pooling) => {
        targets.push(bound.styleGrams.flatMap((gram) => [...gram.dataSync()]));
        return network.objective(bound, objectiveWeights, pooling);
      },
      assertFits: (job) => network.assertFits(job),
      dispose: () => undefined,
    };
    const cache = countingCache();
    const run = (blend: [number, number]) =>
      new StyleTransfer(recording).run({
        content,
        styles: [
          { image: starryNight, weight: blend[0] },
          { image: scream, weight: blend[1] },
        ],
        styleTargetCache: cache,
        options: stylizeOptionsSchema.parse({ size: SIZE, iterations: 1 }),
      });
    await run([3, 1]);
    expect(cache.computed).toHaveLength(2);
    await run([1, 1]);
    expect(cache.computed).toHaveLength(2);

    const gramsOf = async (image: RgbImage): Promise<number[]> => {
      const input = tf.tidy(() => toNetworkInput(imageToTensor(image)));
      const grams = await network.styleGrams(input, 'avg');
      const values = grams.flatMap((gram) => [...gram.dataSync()]);
      tf.dispose([input, ...grams]);
      return values;
    };
    const [a, b] = [await gramsOf(starryNight), await gramsOf(scream)];
    expect(relativeError(targets[0]!, a.map((value, i) => 0.75 * value + 0.25 * b[i]!))).toBeLessThan(1e-5);
    expect(relativeError(targets[1]!, a.map((value, i) => 0.5 * value + 0.5 * b[i]!))).toBeLessThan(1e-5);
    cache.clear();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaves out a style of weight 0, and lands a blend between the two styles', async () => {
    const only = (image: RgbImage): WeightedStyle[] => [{ image, weight: 1 }];
    const options = { iterations: 20 };
    const starryOnly = await stylize(only(starryNight), options);
    const screamOnly = await stylize(only(scream), options);
    const zeroWeighted = await stylize(
      [
        { image: starryNight, weight: 2 },
        { image: scream, weight: 0 },
      ],
      options,
    );
    expect(Buffer.from(zeroWeighted.image.data).equals(Buffer.from(starryOnly.image.data))).toBe(true);

    const blend = await stylize(
      [
        { image: starryNight, weight: 1 },
        { image: scream, weight: 1 },
      ],
      options,
    );
    const towardsStarry = await distanceJudge(network, content, starryNight);
    const towardsScream = await distanceJudge(network, content, scream);
    try {
      const distances = async (image: RgbImage): Promise<[number, number]> => [
        (await towardsStarry(image)).gram,
        (await towardsScream(image)).gram,
      ];
      const [blendToStarry, blendToScream] = await distances(blend.image);
      const [starryToStarry, starryToScream] = await distances(starryOnly.image);
      const [screamToStarry, screamToScream] = await distances(screamOnly.image);
      // Further from each style than that style alone gets, closer to it than the other style alone gets. Measured
      // on onnxruntime, Gram distance to starry_night: 0.20 alone, 0.48 blended, 0.85 with the_scream alone; to
      // the_scream: 0.27, 0.62, 1.04.
      expect(blendToStarry).toBeGreaterThan(starryToStarry);
      expect(blendToStarry).toBeLessThan(screamToStarry);
      expect(blendToScream).toBeGreaterThan(screamToScream);
      expect(blendToScream).toBeLessThan(starryToScream);
    } finally {
      towardsStarry.dispose();
      towardsScream.dispose();
    }
  });

  it('refuses a job whose style weights are all 0', async () => {
    await expect(stylize([{ image: starryNight, weight: 0 }], { iterations: 1 })).rejects.toThrow(
      'at least one style weight must be positive',
    );
  });
});
