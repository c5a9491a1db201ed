import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHelperServer, type RunningHelper } from '../helper/server/index.js';
import { expectError, HelperClient, samplePng } from './support/helperClient.js';
import { realWeightsPath } from './support/sharedAssets.js';

/**
 * Issue 16, before any job: what a hostile web page or a careless client can send to a real helper (real HTTP on
 * loopback, the real VGG-19 on wasm), and what it costs the helper. Every case is bounded in time and in count;
 * "did not hang" limits are generous, far above what the helper needs, far below what the old code took.
 */

const TOKEN = 'e'.repeat(64);
const BODY_LIMIT = 8 * 1024 * 1024;

let helper: RunningHelper;
let client: HelperClient;
let content: string;
let style: string;
const logLines: string[] = [];

beforeAll(async () => {
  helper = await startHelperServer({
    port: 0,
    token: TOKEN,
    backend: 'wasm',
    weights: realWeightsPath(),
    maxQueued: 1,
    bodyLimitBytes: BODY_LIMIT,
    log: (line) => logLines.push(line),
  });
  client = new HelperClient(helper.url, TOKEN);
  [content, style] = await Promise.all([samplePng(48, 40, ['#204080', '#f0c020']), samplePng(40, 40, ['#c03020', '#30c0a0'])]);
  await helper.ready;
});

afterAll(async () => {
  await helper?.close();
});

describe('3. the base64 check takes linear time', () => {
  it('refuses 100 KB of newlines followed by one bad character (400) at once', async () => {
    const startedAt = performance.now();
    const response = await client.submit({ content: `${'\n'.repeat(100_000)}!`, style });
    await expectError(response, 400, 'bad-request', /content: is not base64/);
    // A did-not-hang limit: the old check took tens of seconds here (quadratic), a linear one takes milliseconds.
    expect(performance.now() - startedAt).toBeLessThan(10_000);
  });

  it('still takes base64 wrapped in lines, and refuses padding in the middle', async () => {
    const wrapped = content.replace(/.{76}/g, '$&\r\n');
    const id = await client.submitOk({ content: wrapped, style, options: { size: 32, iterations: 1 } });
    await client.pollUntil(id, (status) => status.status === 'done');
    const padded = `${content.slice(0, 8)}==${content.slice(8)}`;
    await expectError(await client.submit({ content: padded, style }), 400, 'bad-request', /content: is not base64/);
  });
});

