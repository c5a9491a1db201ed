import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JobStatus } from '../shared/protocol.js';
import type { HelperServerOptions } from '../helper/server/index.js';
import { expectError, type HelperClient } from './support/helperClient.js';
import { sharedImagePath } from './support/sharedAssets.js';
import { startTestHelper } from './support/testHelper.js';

/**
 * The helper over time, each test with a helper of its own whose limits are shortened: an engine that stalls is
 * restarted, and finished jobs are forgotten after a while. Real engine runs on the real weights and images.
 */
const TOKEN = 'b'.repeat(64);

let content: string;
let style: string;

beforeAll(async () => {
  const photo = await readFile(sharedImagePath('golden_gate.jpg'));
  const painting = await readFile(sharedImagePath('starry_night.jpg'));
  [content, style] = [photo.toString('base64'), painting.toString('base64')];
});

/** Runs `body` against a helper of its own, started with `options` over the defaults of these tests, then stops it. */
async function withOwnHelper(
  options: Partial<HelperServerOptions>,
  body: (ownClient: HelperClient) => Promise<void>,
): Promise<void> {
  const own = await startTestHelper(TOKEN, options);
  try {
    await body(own.client);
  } finally {
    await own.helper.close();
  }
}

describe('a stalled engine', () => {
  it('fails the job that stalls, restarts the engine and runs the next job', async () => {
    // A 5 s limit: a single-scale 512 px job's first iteration (its targets and two evaluations) takes far longer on
    // wasm, while a 32 px job reports its first within a second, even with another test file busy on the other core.
    // Both are real engine runs; only the limit is shortened.
    await withOwnHelper({ stallTimeoutMs: 5000 }, async (impatient) => {
      const slow = await impatient.submitOk({ content, style, options: { size: 512, iterations: 5, multiScale: 'off' } });
      const small = await impatient.submitOk({ content, style, options: { size: 32, iterations: 2 } });
      const finished = (status: JobStatus): boolean => status.status === 'done' || status.status === 'failed';
      const [stalled] = (await impatient.pollUntil(slow, finished, 120_000)).slice(-1);
      expect(stalled!.status).toBe('failed');
      expect(stalled!.error!.message).toMatch(/the engine reported no progress for 5 s .*; the engine restarted/);
      const [next] = (await impatient.pollUntil(small, finished, 120_000)).slice(-1);
      expect(next!.status, next!.error?.message).toBe('done');
      expect(next!.result).toEqual({ width: 32, height: 24 });
      expect((await impatient.health()).status).toBe('ready');
    });
  });
});

describe('finished jobs', () => {
  it('are kept for a while, then purged', async () => {
    await withOwnHelper({ keepFinishedMs: 1500 }, async (shortLived) => {
      const id = await shortLived.submitOk({ content, style, options: { size: 32, iterations: 1 } });
      await shortLived.pollUntil(id, (status) => status.status === 'done');
      expect((await shortLived.fetch(`/v1/jobs/${id}/result`)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 3500));
      await expectError(await shortLived.fetch(`/v1/jobs/${id}`), 404, 'not-found');
    });
  });
});
