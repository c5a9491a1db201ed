import {
  OnnxGatysNetwork,
  providerPlan,
  TfjsGatysNetwork,
  type GatysNetwork,
  type ProviderPlan,
  type VggWeights,
} from '../../helper/engine/index.js';
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
