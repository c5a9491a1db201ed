import {
  selectBackend,
  StyleTransfer,
  type BackendCandidate,
  type BackendChoice,
  type BackendSelection,
  type GatysNetwork,
} from './engine/index.js';
import { ensureWeights, locateWeights } from './weights/locate.js';
import { readVggWeightsFile } from './weights/vggH5.js';

/** Where the weights are while an engine loads; `received`/`total` are bytes, during a download. */
export type WeightsLoadState =
  | { readonly status: 'downloading'; readonly path: string; readonly received: number; readonly total: number | undefined }
  | { readonly status: 'loading' | 'ready'; readonly path: string };

export interface LoadEngineOptions {
  readonly backend: BackendChoice;
  /** --weights FILE, if given; else GRAMSTYLE_WEIGHTS, the cache, or a download. */
  readonly weightsFlag: string | undefined;
  readonly signal?: AbortSignal;
  readonly onWeights?: (state: WeightsLoadState) => void;
  /** The backends to choose from (tests narrow or stub them); the engine's own list by default. */
  readonly candidates?: readonly BackendCandidate[];
}

export interface LoadedEngine {
  readonly transfer: StyleTransfer;
  readonly network: GatysNetwork;
  readonly backend: Omit<BackendSelection, 'network'>;
  readonly weightsPath: string;
  /** Frees the network (weights, sessions). */
  dispose(): void;
}

/**
 * Everything a style-transfer job needs, loaded once: the VGG-19 weights (found, downloaded if need be, read), then
 * the backend, which proves itself on a known answer with those weights before it is taken. The CLI, the helper's
 * engine worker, `gramstyle doctor` and the benchmarks all load the engine here.
 */
export async function loadEngine(options: LoadEngineOptions): Promise<LoadedEngine> {
  const { signal, onWeights } = options;
  const location = locateWeights({ flag: options.weightsFlag });
  const weightsPath = await ensureWeights({
    flag: options.weightsFlag,
    signal,
    onProgress: (received, total) => onWeights?.({ status: 'downloading', path: location.path, received, total }),
  });
  onWeights?.({ status: 'loading', path: weightsPath });
  const weights = await readVggWeightsFile(weightsPath);
  onWeights?.({ status: 'ready', path: weightsPath });
  signal?.throwIfAborted();
  const { network, ...backend } = await selectBackend(options.backend, weights, options.candidates);
  return {
    transfer: new StyleTransfer(network),
    network,
    backend,
    weightsPath,
    dispose: () => network.dispose(),
  };
}
