import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorBodySchema, type JobStatus } from '../shared/protocol.js';
import type { RunningHelper } from '../helper/server/index.js';
import { rawRequest, type HelperClient } from './support/helperClient.js';
import { smallJobImages, startTestHelper } from './support/testHelper.js';

/**
 * Health and job-status polls that will succeed are answered before express (helper/server/pollShortcut.ts). The
 * answers must be the full app's, byte for byte in what a client reads: the same body, status, headers and log line.
 * A query the shortcut does not take (`&via=app`, ignored by the routes) sends the same request through express.
 */
const TOKEN = 'c'.repeat(64);
let helper: RunningHelper;
let client: HelperClient;
const logLines: string[] = [];
let finished: JobStatus;

beforeAll(async () => {
  ({ helper, client } = await startTestHelper(TOKEN, { previewIntervalMs: 0, previewMaxSide: 32, log: (line) => logLines.push(line) }));
  const [content, style] = await smallJobImages();
  const id = await client.submitOk({ content, style, options: { size: 32, iterations: 2 } });
  finished = (await client.pollUntil(id, (status) => status.status === 'done')).at(-1)!;
});

afterAll(async () => {
  await helper?.close();
});

/** What a client reads of an answer. */
async function answerOf(path: string, token: string | null = TOKEN) {
  const response = await client.fetch(path, { token });
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    cors: response.headers.get('access-control-allow-origin'),
    body: (await response.json()) as unknown,
  };
}

describe('polls answered before express', () => {
  it.each([
    ['health without a token', '/v1/health', null],
    ['health with the token', '/v1/health', TOKEN],
    ['health with a wrong token', '/v1/health', 'd'.repeat(64)],
    ['a job status', 'job', TOKEN],
    ['a job status after a preview', 'job?previewAfter=0', TOKEN],
    ['a job status after the last preview', 'job?previewAfter=999', TOKEN],
  ])('%s: the same answer as the full app', async (_name, path, token) => {
    const shortcut = path.replace(/^job/, `/v1/jobs/${finished.id}`);
    const viaApp = `${shortcut}${shortcut.includes('?') ? '&' : '?'}via=app`;
    const [fast, full] = [await answerOf(shortcut, token), await answerOf(viaApp, token)];
    expect(fast.status).toBe(200);
    expect(fast).toEqual(full);
  });

  it('the answers are right: details only for the token, the preview only when newer', async () => {
    expect(((await answerOf('/v1/health', null)).body as { details: unknown }).details).toBeNull();
    expect(((await answerOf('/v1/health')).body as { details: unknown }).details).not.toBeNull();
    const status = (await answerOf(`/v1/jobs/${finished.id}`)).body as JobStatus;
    expect(status).toEqual(finished);
    expect(((await answerOf(`/v1/jobs/${finished.id}?previewAfter=${finished.preview!.iteration}`)).body as JobStatus).preview).toBeNull();
  });

  it('leaves refusals to the full app: wrong or missing token, unknown job, foreign Host, a body, another method', async () => {
    const codeOf = async (response: Response) => errorBodySchema.parse(await response.json()).error.code;
    expect(await codeOf(await client.fetch(`/v1/jobs/${finished.id}`, { token: null }))).toBe('unauthorized');
    expect(await codeOf(await client.fetch(`/v1/jobs/${finished.id}`, { token: 'e'.repeat(64) }))).toBe('unauthorized');
    expect(await codeOf(await client.fetch('/v1/jobs/no-such-job'))).toBe('not-found');
    const foreign = await rawRequest(helper.url, { path: '/v1/health', headers: { Host: 'evil.example' } });
    expect([foreign.status, errorBodySchema.parse(JSON.parse(foreign.body)).error.code]).toEqual([403, 'forbidden-host']);
    const withBody = await rawRequest(helper.url, {
      path: `/v1/jobs/${finished.id}`,
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Length': String(10 ** 9) },
    });
    expect(withBody.status).toBe(413);
    const post = await client.fetch('/v1/health', { method: 'POST', body: '{}' });
    expect(post.status).toBe(404);
  });

  it('logs each poll once, with its status', async () => {
    const from = logLines.length;
    await answerOf('/v1/health');
    await answerOf(`/v1/jobs/${finished.id}?previewAfter=1`);
    await client.fetch(`/v1/jobs/${finished.id}`, { token: null });
    const expected = [
      /^GET \/v1\/health 200 /,
      new RegExp(`^GET /v1/jobs/${finished.id}\\?previewAfter=1 200 `),
      new RegExp(`^GET /v1/jobs/${finished.id} 401 `),
    ];
    await expect.poll(() => logLines.length - from).toBeGreaterThanOrEqual(expected.length);
    const lines = logLines.slice(from);
    expect(lines).toHaveLength(expected.length);
    expected.forEach((pattern, index) => expect(lines[index]).toMatch(pattern));
  });
});
