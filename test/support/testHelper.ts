import { startHelperServer, type HelperServerOptions, type RunningHelper } from '../../helper/server/index.js';
import { HelperClient, samplePng } from './helperClient.js';
import { realWeightsPath } from './sharedAssets.js';

/**
 * A real helper for a test file: a free port on 127.0.0.1, the real VGG-19 weights on wasm, no log unless `options`
 * gives one; with a client holding `token`. Resolves once the engine is ready.
 */
export async function startTestHelper(
  token: string,
  options: Partial<HelperServerOptions> = {},
): Promise<{ helper: RunningHelper; client: HelperClient }> {
  const helper = await startHelperServer({ port: 0, token, backend: 'wasm', weights: realWeightsPath(), log: () => {}, ...options });
  try {
    await helper.ready;
  } catch (error) {
    await helper.close();
    throw error;
  }
  return { helper, client: new HelperClient(helper.url, token) };
}

/** Two small different pictures (48×40 and 40×40 PNG, base64): a content and a style for jobs of 32–48 px. */
export function smallJobImages(): Promise<[content: string, style: string]> {
  return Promise.all([samplePng(48, 40, ['#204080', '#f0c020']), samplePng(40, 40, ['#c03020', '#30c0a0'])]);
}
