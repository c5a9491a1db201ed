import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHelperServer, type RunningHelper } from '../helper/server/index.js';
import { expectError, HelperClient, samplePng } from './support/helperClient.js';
import { pngDeclaringSize, pngInflatingTo } from './support/hostileImages.js';
import { peakRssGrowth } from './support/hostileLoad.js';
import { realWeightsPath, sharedImagePath } from './support/sharedAssets.js';

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
  helper = await startHelperServer({
    port: 0,
    token: TOKEN,
    backend: 'wasm',
    weights: realWeightsPath(),
    maxQueued: 1,
    bodyLimitBytes: 8 * 1024 * 1024,
    log: () => {},
  });
  client = new HelperClient(helper.url, TOKEN);
  [content, style] = await Promise.all([samplePng(48, 40, ['#204080', '#f0c020']), samplePng(40, 40, ['#c03020', '#30c0a0'])]);
  await helper.ready;
});

afterAll(async () => {
  await helper?.close();
});

const base64 = (bytes: Buffer): string => bytes.toString('base64');

describe('4. an image that decodes to nothing is a 400, not a 500', () => {
  it.each(['==', 'A', '\n', 'data:image/png;base64,', 'data:image/png;base64,=='])('content %j', async (empty) => {
    await expectError(await client.submit({ content: empty, style }), 400, 'invalid-image', /^content image: empty \(0 bytes\)$/);
  });

  it('names the style image too', async () => {
    await expectError(await client.submit({ content, style: '==' }), 400, 'invalid-image', /^style image: empty/);
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
    const { result: id, growthBytes } = await peakRssGrowth(() =>
      client.submitOk({ content, style: base64(pngInflatingTo(200_000_000)), options: { size: 32, iterations: 1 } }),
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

