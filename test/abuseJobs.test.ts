import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stylizeOptionsSchema } from '../shared/stylizeOptions.js';
import type { RunningHelper } from '../helper/server/index.js';
import { expectError, type HelperClient } from './support/helperClient.js';
import { cutAfterHeader, pngDeclaringSize, pngInflatingTo, solidPng } from './support/hostileImages.js';
import { peakRssGrowth } from './support/hostileLoad.js';
import { sharedImagePath } from './support/sharedAssets.js';
import { smallJobImages, startTestHelper } from './support/testHelper.js';

/**
 * Issue 16, jobs: hostile images and options, a full queue, cancel storms, against a real helper (real HTTP on
 * loopback, real sharp, the real VGG-19 on wasm at 32–48 px). Every case is bounded in time and in count.
 */

const TOKEN = 'f'.repeat(64);

let helper: RunningHelper;
let client: HelperClient;
let content: string;
let style: string;

beforeAll(async () => {
  ({ helper, client } = await startTestHelper(TOKEN, { maxQueued: 1, bodyLimitBytes: 8 * 1024 * 1024 }));
  [content, style] = await smallJobImages();
});

afterAll(async () => {
  await helper?.close();
});

const base64 = (bytes: Buffer): string => bytes.toString('base64');

/** Fills the queue (maxQueued 1): a long job running and one waiting. Returns a function that cancels both. */
async function fillQueue(): Promise<() => Promise<void>> {
  const running = await client.submitOk({ content, style, options: { size: 32, iterations: 10_000 } });
  await client.pollUntil(running, (status) => status.status === 'running');
  const waiting = await client.submitOk({ content, style, options: { size: 32, iterations: 1 } });
  return async () => {
    for (const id of [waiting, running]) await client.fetch(`/v1/jobs/${id}`, { method: 'DELETE' });
    await client.pollUntil(running, (status) => status.status === 'canceled');
    // The engine takes the next job only once the canceled one has stopped.
    for (let health = await client.health(); health.details!.busy; health = await client.health()) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
}

describe('4. an image that decodes to nothing is a 400, not a 500', () => {
  it.each(['==', 'A', '\n', 'data:image/png;base64,', 'data:image/png;base64,=='])('content %j', async (empty) => {
    await expectError(await client.submit({ content: empty, style }), 400, 'invalid-image', /^content image: empty \(0 bytes\)$/);
  });

  it('names the style image too', async () => {
    await expectError(await client.submit({ content, style: '==' }), 400, 'invalid-image', /^style image: empty/);
  });
});

describe('5. a full queue refuses before any image is decoded', () => {
  it('answers 429 even to images that could not be decoded, and spends no memory on twenty 4096² posts', async () => {
    const big = await solidPng(4096);
    const bigBody = { content: base64(big), style: base64(big), options: { size: 32 } };
    const cancelAll = await fillQueue();
    try {
      // Decoding these would fail (400): answering 429 shows that nothing was decoded.
      const undecodable = base64(cutAfterHeader(big));
      await expectError(await client.submit({ content: undecodable, style: undecodable }), 429, 'queue-full', /queue is full/);

      const { result: statuses, growthBytes } = await peakRssGrowth(() =>
        Promise.all(Array.from({ length: 20 }, async () => (await client.submit(bigBody)).status)),
      );
      expect(statuses).toEqual(Array(20).fill(429));
      // Decoding them took 2.7 GB before (each image is 48 MB of pixels).
      expect(growthBytes).toBeLessThan(300 * 1024 * 1024);
    } finally {
      await cancelAll();
    }
  });

  it('gives the one free place to one of many concurrent requests, which all else answer 429', async () => {
    const running = await client.submitOk({ content, style, options: { size: 32, iterations: 10_000 } });
    await client.pollUntil(running, (status) => status.status === 'running');
    const big = base64(await solidPng(2048));
    const responses = await Promise.all(
      Array.from({ length: 6 }, () => client.submit({ content: big, style: big, options: { size: 32, iterations: 1 } })),
    );
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([202, 429, 429, 429, 429, 429]);
    const accepted = (await responses.find((response) => response.status === 202)!.json()) as { id: string };
    await client.fetch(`/v1/jobs/${running}`, { method: 'DELETE' });
    const [done] = (await client.pollUntil(accepted.id, (status) => status.status === 'done')).slice(-1);
    expect(done!.result).toEqual({ width: 32, height: 32 });
  });
});

describe('10. option weights that would overflow', () => {
  it.each([
    [{ styleLayerWeights: [1e308, 1e308, 1e308, 1e308, 1e308] }, /options\.styleLayerWeights\.0: .*1000000/],
    [{ styleLayerWeights: [1, 1, 1, 1, 1e7] }, /options\.styleLayerWeights\.4/],
    [{ tvWeight: 1e308 }, /options\.tvWeight: .*1000000/],
  ])('refuses %j (400)', async (options, pattern) => {
    await expectError(await client.submit({ content, style, options }), 400, 'invalid-options', pattern);
  });

  it('takes weights up to the bounds', () => {
    const options = stylizeOptionsSchema.parse({ styleLayerWeights: [1e6, 1e6, 1e6, 1e6, 1e-300], tvWeight: 1e6 });
    expect(options.tvWeight).toBe(1e6);
  });
});

describe('hostile images (these held)', () => {
  it('refuses a PNG whose header claims 100000×100000 pixels (400), without decoding it', async () => {
    const { result: response, growthBytes } = await peakRssGrowth(() =>
      client.submit({ content: base64(pngDeclaringSize(100_000, 100_000)), style }),
    );
    await expectError(response, 400, 'invalid-image', /content image: too large \(100000×100000/);
    expect(growthBytes).toBeLessThan(100 * 1024 * 1024);
  });

  it('reads a 16×16 PNG whose pixel data inflates to 200 MB as its 16×16 pixels only', async () => {
    const bomb = base64(await pngInflatingTo(200_000_000));
    const { result: id, growthBytes } = await peakRssGrowth(() =>
      client.submitOk({ content, style: bomb, options: { size: 32, iterations: 1 } }),
    );
    expect(growthBytes).toBeLessThan(100 * 1024 * 1024);
    const [done] = (await client.pollUntil(id, (status) => status.status === 'done' || status.status === 'failed')).slice(-1);
    expect(done!.status, done!.error?.message).toBe('done');
  });

  it('refuses truncated photos, naming the image (400)', async () => {
    const photo = await readFile(sharedImagePath('golden_gate.jpg'));
    for (const length of [4, 100, 2000, Math.floor(photo.length / 2)]) {
      const cut = base64(photo.subarray(0, length));
      await expectError(await client.submit({ content, style: cut }), 400, 'invalid-image', /^style image: /);
    }
  });
});

describe('cancel storms (these held)', () => {
  it('survives 100 concurrent cancels of the running job and 100 of unknown ones: the next job runs, no tensor left', async () => {
    const tensorsBefore = await client.jobTensors();
    const running = await client.submitOk({ content, style, options: { size: 32, iterations: 10_000 } });
    await client.pollUntil(running, (status) => status.progress.iteration >= 1);
    const cancels = await Promise.all([
      ...Array.from({ length: 100 }, () => client.fetch(`/v1/jobs/${running}`, { method: 'DELETE' })),
      ...Array.from({ length: 100 }, (_, i) => client.fetch(`/v1/jobs/unknown-${i}`, { method: 'DELETE' })),
    ]);
    expect(cancels.slice(0, 100).every((response) => response.status === 200)).toBe(true);
    expect(cancels.slice(100).every((response) => response.status === 404)).toBe(true);
    expect((await client.status(running)).status).toBe('canceled');

    const next = await client.submitOk({ content, style, options: { size: 32, iterations: 2 } });
    expect((await client.pollUntil(next, (status) => status.status === 'done')).at(-1)!.result).toEqual({ width: 32, height: 27 });
    expect(await client.jobTensors()).toBe(tensorsBefore);
  });
});
