import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { STRENGTH_ROW_ITERATIONS, strengthRow, strengthRowOptions } from '../shared/strengthRow.js';
import { stylizeOptionsSchema } from '../shared/stylizeOptions.js';
import type { StylizeProgress } from '../shared/stylizeProgress.js';
import {
  distanceJudge,
  oneStyle,
  renderStrengthRow,
  StyleTransfer,
  type RgbImage,
  type StyleGrams,
} from '../helper/engine/index.js';
import { describeOnEachNetwork, watchedNetwork } from './support/networks.js';
import { loadSharedImage } from './support/sharedAssets.js';

describe('the strengths of a row', () => {
  it('are four, 10 apart around the current one, whole, and within 0–100', () => {
    expect(strengthRow(50)).toEqual([35, 45, 55, 65]);
    expect(strengthRow(47.4)).toEqual([32, 42, 52, 62]);
    expect(strengthRow(5)).toEqual([0, 10, 20, 30]);
    expect(strengthRow(0)).toEqual([0, 10, 20, 30]);
    expect(strengthRow(96)).toEqual([70, 80, 90, 100]);
  });

  it("run at the row's size and iterations in one scale, with the job's other options", () => {
    const options = stylizeOptionsSchema.parse({ size: 1024, iterations: 300, preserveColors: 'luminance', styleScale: 1.5 });
    expect(strengthRowOptions(options)).toEqual({
      ...options,
      size: 128,
      iterations: STRENGTH_ROW_ITERATIONS,
      multiScale: 'off',
    });
  });
});

const SIZE = 64;
let content: RgbImage;
let style: RgbImage;

beforeAll(async () => {
  content = await loadSharedImage('golden_gate.jpg', SIZE);
  style = await loadSharedImage('starry_night.jpg', SIZE);
});

describeOnEachNetwork('a strength row on %s (real VGG-19, 64 px)', (network) => {
  it('renders each strength from one computation of the style targets, counting progress over the whole row', async () => {
    const before = tf.memory().numTensors;
    let styleTargetComputations = 0;
    const counting = watchedNetwork(network, {
      styleGrams: (image, pooling) => {
        styleTargetComputations += 1;
        return network().styleGrams(image, pooling);
      },
    });
    const strengths = strengthRow(50);
    const events: StylizeProgress[] = [];
    const previewSizes = new Set<string>();
    const row = await renderStrengthRow(new StyleTransfer(counting), {
      content,
      styles: oneStyle(style),
      strengths,
      options: stylizeOptionsSchema.parse({ size: SIZE, iterations: STRENGTH_ROW_ITERATIONS }),
      onProgress: ({ progress, preview }) => {
        events.push(progress);
        const image = preview(32);
        previewSizes.add(`${image.width}×${image.height}`);
      },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(styleTargetComputations).toBe(1);
    expect(row.images.map((image) => image.strength)).toEqual(strengths);
    expect(row.images.every(({ image }) => image.width === content.width && image.height === content.height)).toBe(true);
    const total = 4 * STRENGTH_ROW_ITERATIONS;
    expect(events.map((event) => event.iteration)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(events.every((event) => event.total === total && event.etaMs !== null)).toBe(true);
    expect(events.at(-1)!.etaMs).toBe(0);
    expect(events.at(-1)!.elapsedMs).toBeLessThanOrEqual(row.elapsedMs);
    expect([...previewSizes]).toEqual(['32×24']);

    // Each stronger preview is further from the content and nearer the style (continuing from the weaker one: see
    // strengthRow.ts for what happens without).
    const judge = await distanceJudge(network(), content, style);
    try {
      const distances = [];
      for (const { image } of row.images) distances.push(await judge(image));
      for (let i = 1; i < distances.length; i++) {
        expect(distances[i]!.content).toBeGreaterThan(distances[i - 1]!.content);
        expect(distances[i]!.gram).toBeLessThan(distances[i - 1]!.gram);
      }
    } finally {
      judge.dispose();
    }
  });

  it("asks the caller's cache once for the whole row, and stops within an iteration when aborted", async () => {
    const before = tf.memory().numTensors;
    let asked = 0;
    const cached: StyleGrams[] = [];
    const controller = new AbortController();
    const row = renderStrengthRow(new StyleTransfer(network()), {
      content,
      styles: oneStyle(style),
      strengths: [10, 20, 30, 40],
      options: stylizeOptionsSchema.parse({ size: SIZE, iterations: 2 }),
      styleTargetCache: async (_style, _key, compute) => {
        asked += 1;
        if (cached.length === 0) cached.push(await compute());
        return cached[0]!;
      },
      signal: controller.signal,
      onProgress: ({ progress }) => {
        if (progress.iteration === 5) controller.abort(new Error('canceled by test'));
      },
    });
    await expect(row).rejects.toThrow('canceled by test');
    // The row remembers what the cache gave it: the third image did not ask again.
    expect(asked).toBe(1);
    tf.dispose(cached.flatMap((grams) => [...grams]));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a start image of another size than the content', async () => {
    const start: RgbImage = { width: 8, height: 8, data: new Uint8Array(8 * 8 * 3) };
    const options = stylizeOptionsSchema.parse({ size: SIZE, iterations: 1 });
    await expect(new StyleTransfer(network()).run({ content, styles: oneStyle(style), start, options })).rejects.toThrow(
      /the start image is 8×8, the content 64×48/,
    );
  });
});
