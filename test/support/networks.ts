import { afterAll, beforeAll, describe } from 'vitest';
import {
  OnnxGatysNetwork,
  providerPlan,
  TfjsGatysNetwork,
  type GatysNetwork,
  type ProviderPlan,
  type VggWeights,
} from '../../helper/engine/index.js';
import { readVggWeightsFile } from '../../helper/weights/vggH5.js';
import { realWeightsPath } from './sharedAssets.js';
import { useTestBackend } from './tfBackend.js';

/** The networks the loop is tested on: TensorFlow.js on wasm, and onnxruntime on its CPU provider. */
export const TEST_NETWORKS = ['wasm', 'onnxruntime'] as const;
export type TestNetwork = (typeof TEST_NETWORKS)[number];

/** A network of that kind with the real weights; the loop's tensors on wasm in both cases. */
export async function createTestNetwork(kind: TestNetwork, weights: VggWeights): Promise<GatysNetwork> {
  await useTestBackend('wasm');
  if (kind === 'wasm') return new TfjsGatysNetwork(weights, 'custom', true);
  return OnnxGatysNetwork.create(weights, { plan: providerPlan('onnxruntime') as ProviderPlan, wasmHost: true });
}

let realWeights: Promise<VggWeights> | undefined;

/** The workspace's real VGG-19 weights, read once per test file. */
export function loadRealWeights(): Promise<VggWeights> {
  realWeights ??= readVggWeightsFile(realWeightsPath());
  return realWeights;
}

/**
 * The tests in `body` once on each of TEST_NETWORKS (`title` names it with %s), each time with a network of that kind
 * and the real weights, made before the tests and disposed after them; `network()` hands it out.
 */
export function describeOnEachNetwork(title: string, body: (network: () => GatysNetwork, kind: TestNetwork) => void): void {
  describe.each(TEST_NETWORKS)(title, (kind) => {
    let network: GatysNetwork | undefined;
    beforeAll(async () => {
      network = await createTestNetwork(kind, await loadRealWeights());
    });
    afterAll(() => network?.dispose());
    body(() => network!, kind);
  });
}

/** A network that does what `network()` does but for what `overrides` replaces (to watch calls); it disposes nothing. */
export function watchedNetwork(network: () => GatysNetwork, overrides: Partial<GatysNetwork>): GatysNetwork {
  return {
    contentFeatures: (image, pooling) => network().contentFeatures(image, pooling),
    styleGrams: (image, pooling) => network().styleGrams(image, pooling),
    objective: (targets, weights, pooling) => network().objective(targets, weights, pooling),
    assertFits: (job) => network().assertFits(job),
    dispose: () => undefined,
    ...overrides,
  };
}
