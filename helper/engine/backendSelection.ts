import * as tf from '@tensorflow/tfjs-core';
import type { GatysNetwork } from './gatysNetwork.js';
import { knownAnswer, knownAnswerDisagreement, type KnownAnswer } from './knownAnswer.js';
import { ONNX_BACKENDS, providerPlan, type OnnxBackendName } from './onnx/executionProviders.js';
import { OnnxGatysNetwork } from './onnx/onnxGatysNetwork.js';
import { preferredGradientPath } from './tfjs/fastGradients.js';
import { activateTfjsBackend, type TfjsBackendName } from './tfjs/tfjsBackends.js';
import { TfjsGatysNetwork } from './tfjs/tfjsGatysNetwork.js';
import type { VggWeights } from './vggLayers.js';

/**
 * Backends in order of preference: `auto` takes the first that loads and passes its known-answer check. GPUs first
 * (CUDA through TensorFlow, then onnxruntime's native GPU providers, then WebGPU, which reaches every vendor), then
 * the CPU, fastest first.
 */
export const BACKEND_NAMES = [
  'tensorflow-gpu',
  'onnxruntime-cuda',
  'onnxruntime-dml',
  'onnxruntime-coreml',
  'onnxruntime-webgpu',
  'onnxruntime',
  'tensorflow',
  'wasm',
  'cpu',
] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendChoice = 'auto' | BackendName;

export function isBackendChoice(value: string): value is BackendChoice {
  return value === 'auto' || (BACKEND_NAMES as readonly string[]).includes(value);
}

/** A backend the selection can try. */
export interface BackendCandidate {
  readonly name: BackendName;
  /** Why `auto` passes over it here though it may work (a GPU that is only a software rasterizer), or null. */
  autoSkipReason(): string | null;
  /** Loads the network; throws, saying why (and how to fix it where something can be done), when it cannot run. */
  load(weights: VggWeights): Promise<{ network: GatysNetwork; device: string }>;
}

export interface BackendSelection {
  readonly name: BackendName;
  /** What runs the math, for people: "CPU (onnxruntime, 2 threads)", "NVIDIA GPU (onnxruntime CUDA)", … */
  readonly device: string;
  /** Better backends that were passed over, each with the reason. */
  readonly skipped: ReadonlyArray<{ readonly name: BackendName; readonly reason: string }>;
  /** The network, owned by the caller. */
  readonly network: GatysNetwork;
}

/**
 * Where the known answer a backend must give comes from: onnxruntime's CPU provider, the reference the GPU providers
 * are held to; for that provider itself, TensorFlow.js (whose hand-written gradient the tests hold to autodiff).
 */
const REFERENCE = 'onnxruntime' satisfies BackendName;

/**
 * Loads the chosen backend's network; `auto` tries them best first. Before a backend is taken, it computes the
 * objective and gradient of a small fixed image (knownAnswer.ts), which must agree with the reference within 1e-3:
 * a backend that is missing, fails or disagrees is skipped (auto) or an error (named). Where the reference itself
 * cannot run (a platform without onnxruntime's binary), backends are taken unchecked.
 */
export async function selectBackend(
  choice: BackendChoice,
  weights: VggWeights,
  candidates: readonly BackendCandidate[] = defaultCandidates(),
): Promise<BackendSelection> {
  const tried = choice === 'auto' ? candidates : candidates.filter((candidate) => candidate.name === choice);
  if (tried.length === 0) throw new Error(`unknown backend ${choice}`);
  const skipped: Array<{ name: BackendName; reason: string }> = [];
  let referenceAnswer: KnownAnswer | null | undefined;
  const reference = async (): Promise<KnownAnswer | null> => {
    referenceAnswer ??= await onnxReference(weights);
    return referenceAnswer;
  };

  for (const candidate of tried) {
    const autoSkip = choice === 'auto' ? candidate.autoSkipReason() : null;
    if (autoSkip) {
      skipped.push({ name: candidate.name, reason: autoSkip });
      continue;
    }
    let loaded: { network: GatysNetwork; device: string } | undefined;
    try {
      loaded = await candidate.load(weights);
      const expected = candidate.name === REFERENCE ? await tfjsReference(weights) : await reference();
      if (expected) {
        const disagreement = knownAnswerDisagreement(await knownAnswer(loaded.network), expected);
        if (disagreement) throw new Error(`its results disagree with the reference (${disagreement}): it is not used`);
      }
      return { name: candidate.name, device: loaded.device, skipped, network: loaded.network };
    } catch (error) {
      loaded?.network.dispose();
      skipped.push({ name: candidate.name, reason: firstLine(error) });
    }
  }
  const reasons = skipped.map(({ name, reason }) => `${name}: ${reason}`).join('; ');
  throw new Error(choice === 'auto' ? `no backend could be loaded (${reasons})` : `backend ${choice} cannot run here: ${skipped[0]!.reason}`);
}

/**
 * onnxruntime CPU's known answer, or null when it cannot run. It works with the TensorFlow.js backend now current,
 * the candidate's, and does not switch it.
 */
async function onnxReference(weights: VggWeights): Promise<KnownAnswer | null> {
  const plan = providerPlan(REFERENCE);
  if (plan instanceof Error) return null;
  let network: GatysNetwork | undefined;
  try {
    network = await OnnxGatysNetwork.create(weights, { plan, wasmHost: false });
    return await knownAnswer(network);
  } catch {
    return null;
  } finally {
    network?.dispose();
  }
}

/** TensorFlow.js's known answer on its current backend (onnxruntime's loop runs on wasm, else cpu). */
async function tfjsReference(weights: VggWeights): Promise<KnownAnswer> {
  const network = new TfjsGatysNetwork(weights, preferredGradientPath(tf.getBackend()), false);
  try {
    return await knownAnswer(network);
  } finally {
    network.dispose();
  }
}

export function defaultCandidates(): BackendCandidate[] {
  return BACKEND_NAMES.map((name) => (name in ONNX_BACKENDS ? onnxCandidate(name as OnnxBackendName) : tfjsCandidate(name as TfjsBackendName)));
}

function tfjsCandidate(name: TfjsBackendName): BackendCandidate {
  return {
    name,
    autoSkipReason: () => null,
    async load(weights) {
      const device = await activateTfjsBackend(name);
      const kernels = tf.getBackend();
      return { network: new TfjsGatysNetwork(weights, preferredGradientPath(kernels), kernels === 'wasm'), device };
    },
  };
}

function onnxCandidate(name: OnnxBackendName): BackendCandidate {
  return {
    name,
    autoSkipReason() {
      const plan = providerPlan(name);
      if (plan instanceof Error || !plan.softwareOnly) return null;
      return `${plan.softwareOnly}; auto does not take it (name it with --backend ${name} to use it anyway)`;
    },
    async load(weights) {
      const plan = providerPlan(name);
      if (plan instanceof Error) throw plan;
      // The loop's tensors (the image, the optimizer's state) live in TensorFlow.js: WebAssembly's SIMD kernels are
      // the fastest it has on the CPU for that vector math.
      await activateTfjsBackend('wasm').catch(() => activateTfjsBackend('cpu'));
      const network = await OnnxGatysNetwork.create(weights, { plan, wasmHost: tf.getBackend() === 'wasm' });
      return { network, device: plan.device };
    },
  };
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.trim();
}
