import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { strengthRowResultSchema, type JobStatus } from '../shared/protocol.js';
import { STRENGTH_ROW_ITERATIONS, STRENGTH_ROW_LENGTH, strengthRow } from '../shared/strengthRow.js';
import type { RunningHelper } from '../helper/server/index.js';
import { expectError, type HelperClient } from './support/helperClient.js';
import { sharedImagePath } from './support/sharedAssets.js';
import { startTestHelper } from './support/testHelper.js';

const TOKEN = 'c'.repeat(64);

/** The creative controls over HTTP: a real helper on onnxruntime's CPU provider, real weights, real photos. */
let helper: RunningHelper;
let client: HelperClient;
let content: string;
let starryNight: string;
let scream: string;

beforeAll(async () => {
  ({ helper, client } = await startTestHelper(TOKEN, { backend: 'onnxruntime', previewIntervalMs: 0, previewMaxSide: 32 }));
  const base64 = async (name: string) => (await readFile(sharedImagePath(name))).toString('base64');
  content = await base64('golden_gate.jpg');
  starryNight = await base64('starry_night.jpg');
  scream = await base64('the_scream.jpg');
});

afterAll(async () => {
  await helper?.close();
});

const finished = (status: JobStatus): boolean => status.status !== 'queued' && status.status !== 'running';

async function cachedTensors(): Promise<number> {
  return (await client.health()).details!.engineMemory!.cachedTensors;
}

describe('bad creative controls get a 400 naming the field', () => {
  // The bodies are made when the tests run, once the images are loaded.
  const cases: Array<[string, () => unknown, string, RegExp]> = [
    [
      'both style and styles',
      () => ({ content, style: scream, styles: [{ image: scream }] }),
      'bad-request',
      /styles: give either style \(one image\) or styles, not both/,
    ],
    [
      'neither style nor styles',
      () => ({ content }),
      'bad-request',
      /style: missing: give style \(one image\) or styles \(1–4 images with weights\)/,
    ],
    ['no styles', () => ({ content, styles: [] }), 'bad-request', /styles: too small/i],
    ['five styles', () => ({ content, styles: Array.from({ length: 5 }, () => ({ image: scream })) }), 'bad-request', /styles: too big/i],
    [
      'all weights 0',
      () => ({ content, styles: [{ image: scream, weight: 0 }] }),
      'bad-request',
      /styles: at least one style weight must be positive/,
    ],
    ['a negative weight', () => ({ content, styles: [{ image: scream, weight: -1 }] }), 'bad-request', /styles\.0\.weight: too small/i],
    [
      'a style that is not base64',
      () => ({ content, styles: [{ image: scream }, { image: 'not base64!' }] }),
      'bad-request',
      /styles\.1\.image: is not base64/,
    ],
    ['an unknown field in a style', () => ({ content, styles: [{ image: scream, colour: 'red' }] }), 'bad-request', /colour/],
    ['an unknown kind', () => ({ content, style: scream, kind: 'sketch' }), 'bad-request', /kind/],
    ['a brush size above 2', () => ({ content, style: scream, options: { styleScale: 3 } }), 'invalid-options', /options\.styleScale: too big/i],
    [
      'a brush size below 0.25',
      () => ({ content, style: scream, options: { styleScale: 0.1 } }),
      'invalid-options',
      /options\.styleScale: too small/i,
    ],
    [
      'an unknown colour mode',
      () => ({ content, style: scream, options: { preserveColors: 'grey' } }),
      'invalid-options',
      /options\.preserveColors/,
    ],
  ];
  it.each(cases)('%s', async (_name, body, code, pattern) => {
    await expectError(await client.submit(body()), 400, code, pattern);
  });

  it('a style image among several that is not an image, by its number', async () => {
    const garbage = Buffer.from('not an image at all').toString('base64');
    const body = { content, styles: [{ image: scream }, { image: garbage }] };
    await expectError(await client.submit(body), 400, 'invalid-image', /^style image 2: /);
  });
});

describe('jobs with the creative controls', () => {
  it('blends two styles: other weights recompute none of the Gram targets, cached per style image', async () => {
    const before = await cachedTensors();
    const blend = async (weights: [number, number]): Promise<JobStatus> => {
      const styles = [
        { image: starryNight, weight: weights[0] },
        { image: scream, weight: weights[1] },
      ];
      const options = { size: 48, iterations: 2, preserveColors: 'histogram', styleScale: 0.5 };
      const id = await client.submitOk({ content, styles, options });
      return (await client.pollUntil(id, finished)).at(-1)!;
    };
    const first = await blend([0.7, 0.3]);
    expect(first.status, first.error?.message).toBe('done');
    expect(first.result).toEqual({ width: 48, height: 36 });
    // Five Gram matrices for each style image.
    expect(await cachedTensors()).toBe(before + 10);
    expect((await blend([1, 3])).status).toBe('done');
    expect(await cachedTensors()).toBe(before + 10);
  });

  it('renders the strength row: four previews around the strength, progress over all four, one job', async () => {
    const id = await client.submitOk({ kind: 'strength-row', content, style: starryNight, options: { strength: 50 } });
    const seen = await client.pollUntil(id, finished, 300_000);
    const final = seen.at(-1)!;
    expect(final.status, final.error?.message).toBe('done');
    expect(final.kind).toBe('strength-row');
    const total = STRENGTH_ROW_LENGTH * STRENGTH_ROW_ITERATIONS;
    expect(seen.every((status) => status.progress.total === total)).toBe(true);
    expect(final.progress.iteration).toBe(total);
    expect(seen.some((status) => status.status === 'running' && status.preview !== null)).toBe(true);
    expect(final.result).toEqual({ width: 128, height: 96 });

    const response = await client.fetch(`/v1/jobs/${id}/result`);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    const { previews } = strengthRowResultSchema.parse(await response.json());
    expect(previews.map((preview) => preview.strength)).toEqual(strengthRow(50));
    const decoded = await Promise.all(previews.map(({ png }) => sharp(Buffer.from(png, 'base64')).metadata()));
    expect(decoded.map(({ format, width, height }) => [format, width, height])).toEqual(
      Array.from({ length: STRENGTH_ROW_LENGTH }, () => ['png', 128, 96]),
    );
    // The previews differ: each strength is its own image.
    expect(new Set(previews.map((preview) => preview.png)).size).toBe(STRENGTH_ROW_LENGTH);
  }, 300_000);

  it('refuses the result of a row that is not finished, and a row without the token', async () => {
    const row = JSON.stringify({ kind: 'strength-row', content, style: scream });
    const unpaired = await client.fetch('/v1/jobs', { method: 'POST', body: row, token: null });
    await expectError(unpaired, 401, 'unauthorized', /missing pairing token/);
    const id = await client.submitOk({ kind: 'strength-row', content, style: scream });
    await expectError(await client.fetch(`/v1/jobs/${id}/result`), 409, 'not-finished', /has no result/);
    await client.fetch(`/v1/jobs/${id}`, { method: 'DELETE' });
    expect((await client.status(id)).status).toBe('canceled');
  });
});
