import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema, healthSchema, jobStatusSchema, type Health } from '../shared/protocol.js';
import type { RunningHelper } from '../helper/server/index.js';
import { expectError, rawRequest, samplePng, type HelperClient } from './support/helperClient.js';
import { realWeightsPath, sharedImagePath } from './support/sharedAssets.js';
import { startTestHelper } from './support/testHelper.js';

const TOKEN = 'a'.repeat(64);
const BODY_LIMIT = 2 * 1024 * 1024;

let helper: RunningHelper;
let client: HelperClient;
let content: string;
let style: string;
const logLines: string[] = [];

beforeAll(async () => {
  ({ helper, client } = await startTestHelper(TOKEN, {
    maxQueued: 1,
    bodyLimitBytes: BODY_LIMIT,
    previewIntervalMs: 0,
    previewMaxSide: 32,
    log: (line) => logLines.push(line),
  }));
  const photo = await readFile(sharedImagePath('golden_gate.jpg'));
  const painting = await readFile(sharedImagePath('starry_night.jpg'));
  [content, style] = [photo.toString('base64'), painting.toString('base64')];
});

afterAll(async () => {
  await helper?.close();
});

describe('health', () => {
  it('answers without a token, revealing nothing of the machine', async () => {
    const health: Health = await client.publicHealth();
    expect(health).toMatchObject({ name: 'gramstyle', apiVersion: 1, status: 'ready', weights: { status: 'ready', progress: null } });
    expect(health.instanceId).toMatch(/^[0-9a-f-]{36}$/);
    expect(health.details).toBeNull();
    expect(JSON.stringify(health)).not.toContain(realWeightsPath());
    const wrongToken = healthSchema.parse(await (await client.fetch('/v1/health', { token: 'b'.repeat(64) })).json());
    expect(wrongToken.details).toBeNull();
  });

  it('describes the engine, its weights and its queue to the paired plugin', async () => {
    const health: Health = await client.health();
    expect(health.details).toMatchObject({ backend: 'wasm', busy: false, queueLength: 0, weightsPath: realWeightsPath() });
    expect(health.details!.device).toMatch(/WebAssembly/);
    expect(health.details!.engineMemory!.tensors).toBeGreaterThan(0);
    expect((await client.publicHealth()).instanceId).toBe(health.instanceId);
  });
});

describe('security', () => {
  it('refuses requests without a token or with a wrong one (401)', async () => {
    await expectError(await client.fetch('/v1/jobs/x', { token: null }), 401, 'unauthorized', /missing pairing token/);
    await expectError(await client.fetch('/v1/jobs/x', { token: 'b'.repeat(64) }), 401, 'unauthorized', /wrong pairing token/);
    await expectError(
      await client.fetch('/v1/jobs', { method: 'POST', body: '{}', token: TOKEN.slice(1) }),
      401,
      'unauthorized',
    );
  });

  it('confirms a good token on GET /v1/pairing, refuses a bad one', async () => {
    const paired = await client.fetch('/v1/pairing');
    expect([paired.status, await paired.json()]).toEqual([200, { paired: true }]);
    await expectError(await client.fetch('/v1/pairing', { token: 'b'.repeat(64) }), 401, 'unauthorized');
  });

  it('refuses a foreign Host header (DNS rebinding, 403) and accepts the loopback names', async () => {
    const foreign = await rawRequest(helper.url, { path: '/v1/health', headers: { Host: `evil.example:${helper.port}` } });
    expect(foreign.status).toBe(403);
    expect(errorBodySchema.parse(JSON.parse(foreign.body)).error.code).toBe('forbidden-host');
    const otherPort = await rawRequest(helper.url, { path: '/v1/health', headers: { Host: `localhost:${helper.port + 1}` } });
    expect(otherPort.status).toBe(403);
    for (const host of ['localhost', '127.0.0.1', '[::1]']) {
      const ok = await rawRequest(helper.url, { path: '/v1/health', headers: { Host: `${host}:${helper.port}` } });
      expect(ok.status).toBe(200);
    }
  });

  it('answers CORS preflights, with the private-network permission when asked', async () => {
    const preflight = await rawRequest(helper.url, {
      method: 'OPTIONS',
      path: '/v1/jobs',
      headers: {
        Host: `127.0.0.1:${helper.port}`,
        Origin: 'null',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization, content-type',
        'Access-Control-Request-Private-Network': 'true',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('*');
    expect(preflight.headers['access-control-allow-headers']).toMatch(/Authorization/);
    expect(preflight.headers['access-control-allow-headers']).toMatch(/Content-Type/);
    expect(preflight.headers['access-control-allow-methods']).toMatch(/DELETE/);
    expect(preflight.headers['access-control-allow-private-network']).toBe('true');
    expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();

    const plain = await rawRequest(helper.url, {
      method: 'OPTIONS',
      path: '/v1/jobs',
      headers: { Host: `127.0.0.1:${helper.port}`, Origin: 'null', 'Access-Control-Request-Method': 'GET' },
    });
    expect(plain.headers['access-control-allow-private-network']).toBeUndefined();
  });

  it('refuses a body over the limit (413)', async () => {
    const response = await client.submit({ content: 'A'.repeat(BODY_LIMIT), style, options: {} });
    await expectError(response, 413, 'payload-too-large', new RegExp(String(BODY_LIMIT)));
  });
});

describe('validation', () => {
  it.each([
    [{ size: 0 }, /options\.size/],
    [{ size: 5000 }, /options\.size/],
    [{ strength: 101 }, /options\.strength/],
    [{ iterations: 0 }, /options\.iterations/],
    [{ iterations: 2.5 }, /options\.iterations/],
    [{ pooling: 'median' }, /options\.pooling/],
    [{ optimizer: 'sgd' }, /options\.optimizer/],
    [{ styleLayerWeights: [1, 1] }, /options\.styleLayerWeights/],
    [{ styleLayerWeights: [0, 0, 0, 0, 0] }, /at least one style layer weight/],
    [{ colour: 'red' }, /colour/],
  ])('refuses options %j with a message naming the option (400)', async (options, pattern) => {
    await expectError(await client.submit({ content, style, options }), 400, 'invalid-options', pattern);
  });

  it('refuses a missing image, non-base64 and unknown fields (400)', async () => {
    await expectError(await client.submit({ style, options: {} }), 400, 'bad-request', /content/);
    await expectError(await client.submit({ content: 'not base64!', style }), 400, 'bad-request', /content.*base64/);
    await expectError(await client.submit({ content, style, extra: 1 }), 400, 'bad-request', /extra/);
    await expectError(
      await client.fetch('/v1/jobs', { method: 'POST', body: '{"content": ' }),
      400,
      'bad-request',
      /not valid JSON/,
    );
  });

  it('refuses corrupt images, other formats and oversized images, naming the image (400)', async () => {
    const garbage = Buffer.from('this is not an image at all').toString('base64');
    await expectError(await client.submit({ content: garbage, style }), 400, 'invalid-image', /content image/);
    const truncated = Buffer.from(content, 'base64').subarray(0, 2000).toString('base64');
    await expectError(await client.submit({ content, style: truncated }), 400, 'invalid-image', /style image.*corrupt/);
    const gif = (await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } }).gif().toBuffer()).toString('base64');
    await expectError(await client.submit({ content: gif, style }), 400, 'invalid-image', /content image.*PNG, JPEG or WebP/);
    const huge = (await sharp({ create: { width: 5000, height: 10, channels: 3, background: 'red' } }).png().toBuffer()).toString('base64');
    await expectError(await client.submit({ content, style: huge }), 400, 'invalid-image', /style image.*5000×10.*4096/);
  });

  it('answers 404 for unknown jobs and endpoints', async () => {
    await expectError(await client.fetch('/v1/jobs/nope'), 404, 'not-found', /no job nope/);
    await expectError(await client.fetch('/v1/jobs/nope/result'), 404, 'not-found');
    await expectError(await client.fetch('/v1/jobs/nope', { method: 'DELETE' }), 404, 'not-found');
    await expectError(await client.fetch('/v2/anything'), 404, 'not-found');
  });
});

describe('jobs', () => {
  it('runs a job from POST to result: progress goes up, previews appear, the PNG has the requested size', async () => {
    const tensorsBefore = await client.jobTensors();
    const id = await client.submitOk({ content, style, options: { size: 64, iterations: 6 } });
    const statuses = await client.pollUntil(id, (status) => status.status === 'done' || status.status === 'failed');
    const final = statuses[statuses.length - 1]!;
    expect(final.status).toBe('done');
    expect(final.error).toBeNull();
    expect(final.result).toEqual({ width: 64, height: 48 });

    const iterations = statuses.map((status) => status.progress.iteration);
    expect(iterations.every((value, i) => i === 0 || value >= iterations[i - 1]!)).toBe(true);
    expect(final.progress).toMatchObject({ iteration: 6, total: 6 });
    expect(statuses.some((status) => status.status === 'running' && status.progress.iteration > 0 && status.progress.etaMs !== null)).toBe(true);
    expect(final.preview).not.toBeNull();
    const preview = await sharp(Buffer.from(final.preview!.png, 'base64')).metadata();
    expect([preview.format, preview.width, preview.height]).toEqual(['png', 32, 24]);

    const response = await client.fetch(`/v1/jobs/${id}/result`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    const result = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect([result.format, result.width, result.height]).toEqual(['png', 64, 48]);

    // The same style again at another strength: the Gram targets come from the cache; no tensor is left behind.
    const again = await client.submitOk({ content, style, options: { size: 64, iterations: 2, strength: 80 } });
    await client.pollUntil(again, (status) => status.status === 'done');
    expect(await client.jobTensors()).toBe(tensorsBefore);
    expect(logLines.some((line) => line.includes(`job ${id} done`))).toBe(true);
    expect(logLines.some((line) => /^POST \/v1\/jobs 202/.test(line))).toBe(true);
  });

  it('sends a preview only to a client that has not seen it (previewAfter), and refuses a bad previewAfter (400)', async () => {
    const id = await client.submitOk({ content, style, options: { size: 48, iterations: 3 } });
    const [done] = (await client.pollUntil(id, (status) => status.status === 'done')).slice(-1);
    const latest = done!.preview!.iteration;
    const statusAfter = async (query: string) =>
      jobStatusSchema.parse(await (await client.fetch(`/v1/jobs/${id}?previewAfter=${query}`)).json());
    expect((await statusAfter(String(latest))).preview).toBeNull();
    expect((await statusAfter(String(latest + 5))).preview).toBeNull();
    expect((await statusAfter(String(latest - 1))).preview).toEqual(done!.preview);
    expect((await statusAfter('0')).preview).toEqual(done!.preview);
    expect((await statusAfter(String(latest))).progress).toEqual(done!.progress);
    for (const bad of ['-1', '1.5', 'abc', '', '1e3', '0x10', '%201', '1&previewAfter=2']) {
      await expectError(await client.fetch(`/v1/jobs/${id}?previewAfter=${bad}`), 400, 'bad-request', /previewAfter/);
    }
  });

  it('cancels a running job within an iteration, frees its tensors, and runs the next one', async () => {
    const tensorsBefore = await client.jobTensors();
    const id = await client.submitOk({ content, style, options: { size: 64, iterations: 200 } });
    await client.pollUntil(id, (status) => status.progress.iteration >= 2);
    const cancel = await client.fetch(`/v1/jobs/${id}`, { method: 'DELETE' });
    expect(cancel.status).toBe(200);
    expect(((await cancel.json()) as { status: string }).status).toBe('canceled');
    await expectError(await client.fetch(`/v1/jobs/${id}/result`), 409, 'not-finished', /canceled/);

    const next = await client.submitOk({ content, style, options: { size: 48, iterations: 2 } });
    const [firstSeen] = await client.pollUntil(next, () => true);
    await client.pollUntil(next, (status) => status.status === 'done');
    const canceled = await client.status(id);
    expect(canceled.status).toBe('canceled');
    expect(canceled.progress.iteration).toBeLessThan(200);
    expect(firstSeen!.status).not.toBe('failed');
    expect(await client.jobTensors()).toBe(tensorsBefore);
  });

  it('refuses jobs beyond the queue bound (429), and cancels a queued job', async () => {
    const running = await client.submitOk({ content, style, options: { size: 48, iterations: 200 } });
    await client.pollUntil(running, (status) => status.status === 'running');
    const queued = await client.submitOk({ content, style, options: { size: 48, iterations: 2 } });
    expect((await client.status(queued)).queuePosition).toBe(1);
    expect((await client.health()).details!.queueLength).toBe(1);
    await expectError(await client.submit({ content, style, options: { size: 48 } }), 429, 'queue-full', /queue is full/);

    await client.fetch(`/v1/jobs/${queued}`, { method: 'DELETE' });
    expect(await client.status(queued)).toMatchObject({ status: 'canceled', queuePosition: null });
    await client.fetch(`/v1/jobs/${running}`, { method: 'DELETE' });
    await client.pollUntil(running, (status) => status.status === 'canceled');
  });

  it('queues a batch (one job per content, one style) in one request, or refuses it whole', async () => {
    const batch = (contents: string[], options: object) =>
      client.fetch('/v1/batches', { method: 'POST', body: JSON.stringify({ contents, style, options }) });
    // The job canceled before shows as canceled at once but holds the engine until its iteration ends.
    await expect.poll(async () => (await client.health()).details!.busy, { timeout: 60_000 }).toBe(false);
    // The queue takes one job behind the running one: a batch of three does not fit, and none of it is queued.
    await expectError(await batch([content, content, content], { size: 32 }), 429, 'queue-full', /3 jobs do not fit/);
    expect((await client.health()).details).toMatchObject({ queueLength: 0, busy: false });
    const small = await samplePng(40, 60, ['#204080', '#f0c020']);
    await expectError(await batch([content, 'not base64!'], { size: 32 }), 400, 'bad-request', /contents\.1: is not base64/);
    // The style is prepared once for all contents: a bad content is named by its place, a bad style once, unnumbered.
    const notAnImage = Buffer.from('not an image').toString('base64');
    await expectError(await batch([content, notAnImage], { size: 32 }), 400, 'invalid-image', /^contents\[1\]: content image: /);
    const badStyle = JSON.stringify({ contents: [content, content], style: notAnImage, options: { size: 32 } });
    await expectError(await client.fetch('/v1/batches', { method: 'POST', body: badStyle }), 400, 'invalid-image', /^style image: /);

    const answer = await batch([content, small], { size: 32, iterations: 2 });
    expect(answer.status).toBe(202);
    const { jobs } = (await answer.json()) as { jobs: string[] };
    expect(jobs).toHaveLength(2);
    const results = [];
    for (const id of jobs) results.push((await client.pollUntil(id, (status) => status.status === 'done')).at(-1)!.result);
    expect(results).toEqual([{ width: 32, height: 24 }, { width: 21, height: 32 }]);
  });

  it('fails a job whose input turns out unusable late, alone: the next job runs', async () => {
    // 16 px long but 1 px short after scaling: decodable, but too thin for VGG-19's four poolings.
    const sliver = await samplePng(400, 20, ['#204080', '#f0c020']);
    const failing = await client.submitOk({ content: sliver, style, options: { size: 64, iterations: 3 } });
    const [failed] = (await client.pollUntil(failing, (status) => status.status === 'failed')).slice(-1);
    expect(failed!.error).toEqual({ code: 'job-failed', message: expect.stringMatching(/content image is too small.*64×3/) });

    const next = await client.submitOk({ content, style, options: { size: 48, iterations: 2 } });
    const [done] = (await client.pollUntil(next, (status) => status.status === 'done')).slice(-1);
    expect(done!.result).toEqual({ width: 48, height: 36 });
    expect((await client.health()).status).toBe('ready');
  });

  it('refuses a job too large for the backend, alone: the next job runs', async () => {
    const huge = await sharp({ create: { width: 4096, height: 3000, channels: 3, background: '#336699' } }).png().toBuffer();
    const refused = await client.submitOk({ content: huge.toString('base64'), style, options: { size: 4096, iterations: 2 } });
    const [failed] = (await client.pollUntil(refused, (status) => status.status === 'failed', 120_000)).slice(-1);
    expect(failed!.error!.message).toMatch(/4096×3000 needs about .* GiB per step, more than the wasm backend's 4 GiB heap/);

    const next = await client.submitOk({ content, style, options: { size: 48, iterations: 2 } });
    expect((await client.pollUntil(next, (status) => status.status === 'done')).at(-1)!.result).toEqual({ width: 48, height: 36 });
  });

  it('refuses a job whose style image, scaled like the content, would not fit: the next job runs', async () => {
    // A 4096×20 banner passes the content check, but the style image is scaled to the same long side: 4096×2560,
    // whose forward pass alone would need more than the 4 GB a WebAssembly heap may have.
    const banner = await samplePng(4000, 20, ['#204080', '#f0c020']);
    const refused = await client.submitOk({ content: banner, style, options: { size: 4096, iterations: 2 } });
    const [failed] = (await client.pollUntil(refused, (status) => status.status === 'failed', 120_000)).slice(-1);
    expect(failed!.error!.message).toMatch(/the style image, scaled to 4096×2560, needs about .* GiB/);

    const next = await client.submitOk({ content, style, options: { size: 48, iterations: 2 } });
    const [done] = (await client.pollUntil(next, (status) => status.status === 'done', 120_000)).slice(-1);
    expect(done!.result).toEqual({ width: 48, height: 36 });
    expect((await client.health()).status).toBe('ready');
  });
});
