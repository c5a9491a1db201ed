import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { downloadWeights } from '../helper/weights/download.js';
import { WeightsError, type WeightsErrorCode } from '../helper/weights/errors.js';
import { ensureWeights, locateWeights, WEIGHTS_FILE_NAME } from '../helper/weights/locate.js';

const PAYLOAD = randomBytes(3 * 1024 * 1024 + 123);
const PAYLOAD_MD5 = createHash('md5').update(PAYLOAD).digest('hex');

let server: Server;
let base: string;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gramstyle-weights-download-'));
  server = createServer((request, response) => {
    switch (request.url) {
      case '/weights.h5': {
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': PAYLOAD.length });
        // Several writes, so the client sees several chunks.
        for (let start = 0; start < PAYLOAD.length; start += 256 * 1024) {
          response.write(PAYLOAD.subarray(start, start + 256 * 1024));
        }
        response.end();
        return;
      }
      case '/cut': {
        // Announce the whole file, send half, then drop the connection.
        response.writeHead(200, { 'content-length': PAYLOAD.length });
        response.write(PAYLOAD.subarray(0, PAYLOAD.length / 2), () => response.socket?.destroy());
        return;
      }
      default:
        response.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
});

/** A fresh, empty directory per test: "nothing left behind" is checked by listing it. */
async function freshDir(name: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir);
  return dir;
}

async function expectWeightsError(promise: Promise<unknown>, code: WeightsErrorCode): Promise<WeightsError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(WeightsError);
  expect((error as WeightsError).code, (error as WeightsError).message).toBe(code);
  return error as WeightsError;
}

/** A port nothing listens on: connecting to it is refused. */
async function closedPortUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}/weights.h5`;
}

describe('downloadWeights', () => {
  it('downloads, verifies and reports progress', async () => {
    const dir = await freshDir('success');
    const destination = join(dir, 'weights.h5');
    const progress: Array<[number, number | undefined]> = [];
    await downloadWeights({
      urls: [`${base}/weights.h5`],
      md5: PAYLOAD_MD5,
      destination,
      onProgress: (received, total) => progress.push([received, total]),
    });
    expect((await readFile(destination)).equals(PAYLOAD)).toBe(true);
    expect(await readdir(dir)).toEqual(['weights.h5']);

    expect(progress.length).toBeGreaterThan(1);
    const received = progress.map(([bytes]) => bytes);
    expect(received.every((bytes, index) => index === 0 || bytes > received[index - 1]!)).toBe(true);
    expect(progress.at(-1)).toEqual([PAYLOAD.length, PAYLOAD.length]);
    expect(progress.every(([, total]) => total === PAYLOAD.length)).toBe(true);
  });

  it('falls back to the next URL after a 404', async () => {
    const dir = await freshDir('fallback');
    const destination = join(dir, 'weights.h5');
    await downloadWeights({ urls: [`${base}/missing`, `${base}/weights.h5`], md5: PAYLOAD_MD5, destination });
    expect((await readFile(destination)).equals(PAYLOAD)).toBe(true);
    expect(await readdir(dir)).toEqual(['weights.h5']);
  });

  it("fails with 'download-failed' listing every URL when all fail", async () => {
    const dir = await freshDir('all-fail');
    const refused = await closedPortUrl();
    const urls = [`${base}/missing`, `${base}/also-missing`, refused];
    const error = await expectWeightsError(
      downloadWeights({ urls, md5: PAYLOAD_MD5, destination: join(dir, 'weights.h5') }),
      'download-failed',
    );
    for (const url of urls) expect(error.message).toContain(url);
    expect(error.message).toContain('HTTP 404');
    expect(await readdir(dir)).toEqual([]);
  });

  it("fails with 'checksum-mismatch' and leaves no file", async () => {
    const dir = await freshDir('checksum');
    const wrongMd5 = '0123456789abcdef0123456789abcdef';
    const error = await expectWeightsError(
      downloadWeights({ urls: [`${base}/weights.h5`], md5: wrongMd5, destination: join(dir, 'weights.h5') }),
      'checksum-mismatch',
    );
    expect(error.message).toContain(wrongMd5);
    expect(error.message).toContain(PAYLOAD_MD5);
    expect(await readdir(dir)).toEqual([]);
  });

  it('fails on a transfer cut off half-way and leaves nothing behind', async () => {
    const dir = await freshDir('cut');
    const error = await expectWeightsError(
      downloadWeights({ urls: [`${base}/cut`], md5: PAYLOAD_MD5, destination: join(dir, 'weights.h5') }),
      'download-failed',
    );
    expect(error.message).toContain(`${base}/cut`);
    expect(await readdir(dir)).toEqual([]);
  });

  it('stops when aborted and leaves nothing behind', async () => {
    const dir = await freshDir('abort');
    const controller = new AbortController();
    const download = downloadWeights({
      urls: [`${base}/weights.h5`, `${base}/weights.h5`],
      md5: PAYLOAD_MD5,
      destination: join(dir, 'weights.h5'),
      signal: controller.signal,
      onProgress: (received) => {
        if (received > 1024 * 1024) controller.abort();
      },
    });
    await expect(download).rejects.toMatchObject({ name: 'AbortError' });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('locateWeights', () => {
  it('prefers --weights, then GRAMSTYLE_WEIGHTS, then the cache, else a download into the cache', async () => {
    const dir = await freshDir('locate');
    const cacheDir = join(dir, 'cache');
    await mkdir(cacheDir);
    const flag = join(dir, 'flag.h5');
    const envFile = join(dir, 'env.h5');
    const cached = join(cacheDir, WEIGHTS_FILE_NAME);
    const env = { GRAMSTYLE_WEIGHTS: envFile };

    expect(locateWeights({ flag, env, cacheDir })).toEqual({ path: flag, source: 'flag', exists: false });
    expect(locateWeights({ env, cacheDir })).toEqual({ path: envFile, source: 'env', exists: false });
    expect(locateWeights({ env: {}, cacheDir })).toEqual({ path: cached, source: 'download', exists: false });

    await Promise.all([flag, envFile, cached].map((path) => writeFile(path, 'x')));
    expect(locateWeights({ flag, env, cacheDir })).toEqual({ path: flag, source: 'flag', exists: true });
    expect(locateWeights({ env, cacheDir })).toEqual({ path: envFile, source: 'env', exists: true });
    expect(locateWeights({ env: { GRAMSTYLE_WEIGHTS: '' }, cacheDir })).toEqual({
      path: cached,
      source: 'cache',
      exists: true,
    });
  });
});

describe('ensureWeights', () => {
  it("rejects a --weights path that does not exist with 'missing', naming it", async () => {
    const dir = await freshDir('ensure-flag');
    const flag = join(dir, 'nope.h5');
    const error = await expectWeightsError(
      ensureWeights({ flag, env: {}, cacheDir: dir, urls: [`${base}/weights.h5`], md5: PAYLOAD_MD5 }),
      'missing',
    );
    expect(error.message).toContain(flag);
    expect(error.message).toContain('--weights');
    expect(await readdir(dir)).toEqual([]);
  });

  it("rejects a GRAMSTYLE_WEIGHTS path that does not exist with 'missing', naming it", async () => {
    const dir = await freshDir('ensure-env');
    const envFile = join(dir, 'nope.h5');
    const error = await expectWeightsError(
      ensureWeights({ env: { GRAMSTYLE_WEIGHTS: envFile }, cacheDir: dir, urls: [`${base}/weights.h5`] }),
      'missing',
    );
    expect(error.message).toContain(envFile);
    expect(error.message).toContain('GRAMSTYLE_WEIGHTS');
  });

  it('downloads into the cache once, then reuses it', async () => {
    const cacheDir = join(await freshDir('ensure-download'), 'nested', 'cache');
    const path = await ensureWeights({ env: {}, cacheDir, urls: [`${base}/weights.h5`], md5: PAYLOAD_MD5 });
    expect(path).toBe(join(cacheDir, WEIGHTS_FILE_NAME));
    expect((await readFile(path)).equals(PAYLOAD)).toBe(true);
    // No URLs: a second call must not need the network.
    expect(await ensureWeights({ env: {}, cacheDir, urls: [] })).toBe(path);
  });
});
