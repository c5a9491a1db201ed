import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SIZE, stylizeOptionsSchema, type StylizeOptionsInput } from '../shared/stylizeOptions.js';
import {
  oneStyle,
  StyleTransfer,
  TfjsGatysNetwork,
  scaleSchedule,
  MAX_SCALES,
  type GatysNetwork,
  type RgbImage,
  type StyleGrams,
} from '../helper/engine/index.js';
import type { StylizeProgress } from '../shared/stylizeProgress.js';
import { curvatureAtScale, resizeImage } from '../helper/engine/multiScale.js';
import { TimeLeft } from '../helper/engine/timeLeft.js';
import { readVggWeightsFile } from '../helper/weights/vggH5.js';
import { loadSharedImage, realWeightsPath } from './support/sharedAssets.js';
import { createTestNetwork, TEST_NETWORKS } from './support/networks.js';
import { useTestBackend } from './support/tfBackend.js';

describe('the scale schedule', () => {
  const sides = (schedule: ReturnType<typeof scaleSchedule>) => schedule.map((s) => [s.width, s.height, s.iterations]);

  it('is one scale when off, and below 512 px when auto', () => {
    expect(sides(scaleSchedule({ width: 1024, height: 768 }, 200, 'off'))).toEqual([[1024, 768, 200]]);
    expect(sides(scaleSchedule({ width: 384, height: 511 }, 200, 'auto'))).toEqual([[384, 511, 200]]);
  });

  it('doubles from about 128 px up to the output size; half of the iterations at the end, more on coarser scales', () => {
    expect(sides(scaleSchedule({ width: 512, height: 384 }, 200, 'auto'))).toEqual([
      [128, 96, 67],
      [256, 192, 33],
      [512, 384, 100],
    ]);
    const large = scaleSchedule({ width: 700, height: 1024 }, 201, 'auto');
    expect(sides(large)).toEqual([
      [88, 128, 58],
      [175, 256, 28],
      [350, 512, 14],
      [700, 1024, 101],
    ]);
  });

  it('always has two scales when on, but never a side below 16 px, nor a scale without iterations', () => {
    expect(sides(scaleSchedule({ width: 96, height: 64 }, 8, 'on'))).toEqual([
      [48, 32, 4],
      [96, 64, 4],
    ]);
    // The last scale needs some iterations to restore the texture that upsampling blurred.
    expect(sides(scaleSchedule({ width: 512, height: 512 }, 40, 'auto')).map(([, , n]) => n)).toEqual([14, 6, 20]);
    expect(sides(scaleSchedule({ width: 30, height: 30 }, 8, 'on'))).toEqual([[30, 30, 8]]);
    // Elongated: the short side limits how coarse the first scale can be.
    expect(sides(scaleSchedule({ width: 1024, height: 40 }, 100, 'auto')).map(([w, h]) => [w, h])).toEqual([
      [512, 20],
      [1024, 40],
    ]);
    // Fewer iterations than scales drop the coarsest ones.
    expect(sides(scaleSchedule({ width: 512, height: 512 }, 2, 'auto'))).toEqual([
      [256, 256, 1],
      [512, 512, 1],
    ]);
    for (const iterations of [1, 3, 5, 6, 7, 199, 10_000]) {
      const schedule = scaleSchedule({ width: 4096, height: 4096 }, iterations, 'on');
      expect(schedule.reduce((sum, s) => sum + s.iterations, 0)).toBe(iterations);
      expect(schedule.every((s) => s.iterations >= 1)).toBe(true);
      expect(schedule.at(-1)).toMatchObject({ width: 4096, height: 4096 });
    }
  });

  it('has at most MAX_SCALES scales (what the helper sizes its Gram cache by), at the largest output', () => {
    expect(MAX_SCALES).toBe(6);
    expect(scaleSchedule({ width: MAX_SIZE, height: MAX_SIZE }, 200, 'auto')).toHaveLength(MAX_SCALES);
  });
});

describe('the time left of a coarse-to-fine job', () => {
  const schedule = [
    { width: 128, height: 96, iterations: 4 },
    { width: 256, height: 192, iterations: 2 },
    { width: 512, height: 384, iterations: 2 },
  ];

  it('counts each remaining iteration at the cost of its scale, the finer ones by their pixels', () => {
    const timeLeft = new TimeLeft(schedule);
    timeLeft.record(0, 30);
    timeLeft.record(0, 10);
    // 20 ms an iteration at 128 px: 2 more there, then 2 at 4× and 2 at 16× the pixels.
    expect(timeLeft.estimateMs(0)).toBeCloseTo(2 * 20 + 2 * 80 + 2 * 320, 6);
    timeLeft.record(0, 20);
    timeLeft.record(0, 20);
    // A finer scale's own cost replaces the estimate as soon as it is measured.
    timeLeft.record(1, 100);
    expect(timeLeft.estimateMs(1)).toBeCloseTo(100 + 2 * 400, 6);
    timeLeft.record(1, 100);
    timeLeft.record(2, 500);
    timeLeft.record(2, 300);
    expect(timeLeft.estimateMs(2)).toBe(0);
  });
});

describe.each(TEST_NETWORKS)('coarse-to-fine style transfer on %s (real VGG-19 weights, 96 px)', (kind) => {
  let network: GatysNetwork;
  let transfer: StyleTransfer;
  let content: RgbImage;
  let style: RgbImage;

  beforeAll(async () => {
    network = await createTestNetwork(kind, await readVggWeightsFile(realWeightsPath()));
    transfer = new StyleTransfer(network);
    content = await loadSharedImage('golden_gate.jpg', 96);
    style = await loadSharedImage('starry_night.jpg', 96);
  });

  afterAll(() => network?.dispose());

  const options = (input: StylizeOptionsInput = {}) =>
    stylizeOptionsSchema.parse({ size: 96, iterations: 8, multiScale: 'on', ...input });

  it('runs the schedule coarse to fine, counts iterations over all scales, and returns the requested size', async () => {
    const before = tf.memory().numTensors;
    const events: StylizeProgress[] = [];
    const previews: RgbImage[] = [];
    const result = await transfer.run({
      content,
      styles: oneStyle(style),
      options: options(),
      onProgress: ({ progress, preview }) => {
        events.push(progress);
        previews.push(preview());
      },
    });
    expect(tf.memory().numTensors).toBe(before);

    expect(result.image.width).toBe(content.width);
    expect(result.image.height).toBe(content.height);
    expect(result.iterations).toBe(8);
    expect(events.map((e) => e.iteration)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(events.every((e) => e.total === 8)).toBe(true);
    const half = { width: Math.round(content.width / 2), height: Math.round(content.height / 2) };
    expect(events.map((e) => e.scale?.index)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(events[0]!.scale).toEqual({ index: 0, count: 2, ...half, iterations: 4 });
    expect(events[7]!.scale).toEqual({ index: 1, count: 2, width: content.width, height: content.height, iterations: 4 });
    // Previews come from the current scale.
    expect([previews[0]!.width, previews[0]!.height]).toEqual([half.width, half.height]);
    expect([previews[7]!.width, previews[7]!.height]).toEqual([content.width, content.height]);
    expect(events.every((e) => e.styleLayerLosses?.length === 5 && Number.isFinite(e.contentLoss))).toBe(true);
    // The coarse scale stylized: its style loss fell well below where it started.
    expect(events[3]!.styleLoss!).toBeLessThan(events[0]!.styleLoss! / 2);
    expect(result.styleLoss).toBe(events[7]!.styleLoss);
  }, 120_000);

  it('stops within one iteration when aborted during a coarse scale and frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    let last = 0;
    const run = transfer.run({
      content,
      styles: oneStyle(style),
      options: options(),
      signal: controller.signal,
      onProgress: ({ progress }) => {
        last = progress.iteration;
        if (progress.iteration === 2) controller.abort(new Error('canceled by test'));
      },
    });
    await expect(run).rejects.toThrow('canceled by test');
    expect(last).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('asks a style target cache once per scale and never disposes what it returns', async () => {
    const cache = new Map<string, StyleGrams>();
    const asked: string[] = [];
    const styleTargetCache = async (index: number, key: string, compute: () => Promise<StyleGrams>): Promise<StyleGrams> => {
      expect(index).toBe(0);
      asked.push(key);
      if (!cache.has(key)) cache.set(key, await compute());
      return cache.get(key)!;
    };
    const before = tf.memory().numTensors;
    await transfer.run({ content, styles: oneStyle(style), styleTargetCache, options: options({ iterations: 3 }) });
    await transfer.run({ content, styles: oneStyle(style), styleTargetCache, options: options({ iterations: 3 }) });
    const keys = [`${Math.round(style.width / 2)}x${Math.round(style.height / 2)}:avg`, `${style.width}x${style.height}:avg`];
    expect(asked).toEqual([...keys, ...keys]);
    expect(cache.size).toBe(2);
    expect(tf.memory().numTensors).toBe(before + 2 * 5);
    for (const grams of cache.values()) tf.dispose([...grams]);
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);
});

describe('memory limits', () => {
  it("refuses a job too large for wasm's 4 GiB heap at once instead of aborting the process", async () => {
    await useTestBackend();
    const network = new TfjsGatysNetwork(await readVggWeightsFile(realWeightsPath()), 'custom', true);
    // 1024 × 1024 runs (bench/); 1400 × 1000 would need about 3.4 GiB of tensors.
    const huge: RgbImage = { width: 1400, height: 1000, data: new Uint8Array(1400 * 1000 * 3) };
    const options = stylizeOptionsSchema.parse({ size: 1400, iterations: 1 });
    await expect(new StyleTransfer(network).run({ content: huge, styles: oneStyle(huge), options })).rejects.toThrow(/4 GiB heap/);
    network.dispose();
  });
});

describe('resizing between scales', () => {
  beforeAll(async () => {
    await useTestBackend();
  });

  it('averages whole blocks when downscaling, so fine texture does not alias', () => {
    // A one-pixel checkerboard: bilinear sampling would pick single pixels (all 0 or all 255); a box filter gives grey.
    const checker = tf.tidy(() =>
      tf.tensor4d(
        Array.from({ length: 8 * 8 }, (_, i) => ((Math.floor(i / 8) + i) % 2) * 255),
        [1, 8, 8, 1],
      ),
    );
    const small = resizeImage(checker, { width: 2, height: 2 });
    expect(Array.from(small.dataSync())).toEqual([127.5, 127.5, 127.5, 127.5]);
    const odd = resizeImage(checker, { width: 3, height: 5 });
    expect(odd.shape).toEqual([1, 5, 3, 1]);
    const up = resizeImage(small, { width: 8, height: 8 });
    expect(up.shape).toEqual([1, 8, 8, 1]);
    tf.dispose([checker, small, odd, up]);
  });

  it("maps a coarse scale's L-BFGS steps to the finer size, keeping each pair's curvature sᵀy", () => {
    const before = tf.memory().numTensors;
    const coarse = tf.tidy(() => [
      { s: tf.fill([1, 4, 6, 3], 2), y: tf.fill([1, 4, 6, 3], 3) },
      { s: tf.randomUniform([1, 4, 6, 3], -1, 1, 'float32', 7), y: tf.fill([1, 4, 6, 3], -1) },
    ]);
    const fine = curvatureAtScale(coarse, { width: 12, height: 8 });
    expect(fine.map(({ s, y }) => [s.shape, y.shape])).toEqual([
      [[1, 8, 12, 3], [1, 8, 12, 3]],
      [[1, 8, 12, 3], [1, 8, 12, 3]],
    ]);
    // A step is upsampled; a gradient difference is spread over the four pixels each coarse one became.
    expect(new Set(fine[0]!.s.dataSync())).toEqual(new Set([2]));
    expect(new Set(fine[0]!.y.dataSync())).toEqual(new Set([0.75]));
    const curvature = ({ s, y }: { s: tf.Tensor; y: tf.Tensor }): number =>
      tf.tidy(() => tf.sum(tf.mul(s, y)).dataSync()[0]!);
    expect(curvature(fine[0]!)).toBeCloseTo(curvature(coarse[0]!), 3);
    expect(curvature(fine[1]!)).toBeCloseTo(curvature(coarse[1]!), 3);
    tf.dispose(coarse.flatMap(({ s, y }) => [s, y]));
    tf.dispose(fine.flatMap(({ s, y }) => [s, y]));
    expect(tf.memory().numTensors).toBe(before);
  });
});
