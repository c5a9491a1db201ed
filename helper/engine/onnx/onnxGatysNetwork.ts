import { totalmem } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { STYLE_LAYERS } from '../../../shared/stylizeOptions.js';
import {
  gibibytes,
  styleCoefficients,
  styleLossFromLayers,
  type GatysNetwork,
  type JobFootprint,
  type ObjectiveTargets,
  type ObjectiveWeights,
  type Pooling,
  type ScaleObjective,
} from '../gatysNetwork.js';
import type { VggWeights } from '../vggLayers.js';
import type { ProviderPlan } from './executionProviders.js';
import { FEATURE_MODEL, OBJECTIVE_MODEL, featuresModel, objectiveModel } from './gatysGraphs.js';

interface PoolingSessions {
  readonly features: ort.InferenceSession;
  readonly objective: ort.InferenceSession;
}

/** Sessions created and not yet released, in this thread: what a disposed engine must bring back to 0. */
let liveSessions = 0;
export function liveOnnxSessions(): number {
  return liveSessions;
}

async function createSession(model: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  const session = await ort.InferenceSession.create(model, options);
  liveSessions += 1;
  return session;
}

/** Releases a session now: onnxruntime-node frees it synchronously inside release(). */
function releaseSession(session: ort.InferenceSession): void {
  void session.release();
  liveSessions -= 1;
}

/** How the sessions run: the execution provider's plan, and where the loop's tensors live. */
export interface OnnxSessionSettings {
  readonly plan: ProviderPlan;
  /**
   * Whether the job's tensors outside the network (the image, the optimizer's state) live in WebAssembly's heap,
   * which ends at 4 GiB: the engine's loop runs on TensorFlow.js's wasm backend beside onnxruntime.
   */
  readonly wasmHost: boolean;
}

/**
 * Gatys' objective on ONNX Runtime: the whole step (forward, losses, backward) is one session run of the model that
 * gatysGraphs.ts emits from the layer plan, on whichever execution provider was chosen. Images and gradients cross
 * between TensorFlow.js (where the optimizer works) and onnxruntime as plain Float32Arrays.
 */
export class OnnxGatysNetwork implements GatysNetwork {
  private readonly sessions = new Map<Pooling, Promise<PoolingSessions>>();
  /** The sessions created so far, to release them synchronously in dispose(). */
  private readonly created: ort.InferenceSession[] = [];
  private disposed = false;

  private constructor(
    private readonly weights: VggWeights,
    private readonly settings: OnnxSessionSettings,
  ) {}

  /** Creates the average-pooling sessions at once, so that a provider that cannot run fails here. */
  static async create(weights: VggWeights, settings: OnnxSessionSettings): Promise<OnnxGatysNetwork> {
    const network = new OnnxGatysNetwork(weights, settings);
    await network.sessionsFor('avg');
    return network;
  }

  private sessionsFor(pooling: Pooling): Promise<PoolingSessions> {
    if (this.disposed) throw new Error('this network has been disposed');
    let sessions = this.sessions.get(pooling);
    if (!sessions) {
      sessions = (async () => {
        const options = this.sessionOptions();
        const features = await createSession(featuresModel(this.weights, pooling), options);
        let objective: ort.InferenceSession;
        try {
          objective = await createSession(objectiveModel(this.weights, pooling, this.settings.plan.convolutions), options);
        } catch (error) {
          releaseSession(features);
          throw error;
        }
        // Disposed while the sessions were being created: nobody will use them.
        if (this.disposed) {
          releaseSession(features);
          releaseSession(objective);
          throw new Error('this network has been disposed');
        }
        this.created.push(features, objective);
        return { features, objective };
      })();
      // A failed creation is not cached: the next job may try again.
      sessions.catch(() => this.sessions.delete(pooling));
      this.sessions.set(pooling, sessions);
    }
    return sessions;
  }

  private sessionOptions(): ort.InferenceSession.SessionOptions {
    return {
      executionProviders: [this.settings.plan.executionProvider],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      enableMemPattern: this.settings.plan.memoryPattern,
      intraOpNumThreads: this.settings.plan.threads,
      interOpNumThreads: 1,
      logSeverityLevel: 3,
    };
  }

  private async features(image: tf.Tensor4D, pooling: Pooling): Promise<ort.InferenceSession.OnnxValueMapType> {
    const { features } = await this.sessionsFor(pooling);
    return features.run({ [FEATURE_MODEL.image]: await toOrt(image) });
  }

  async contentFeatures(image: tf.Tensor4D, pooling: Pooling): Promise<tf.Tensor4D> {
    return toTf(await this.features(image, pooling).then((outputs) => outputs[FEATURE_MODEL.contentFeatures]!)) as tf.Tensor4D;
  }

  async styleGrams(image: tf.Tensor4D, pooling: Pooling): Promise<tf.Tensor2D[]> {
    const outputs = await this.features(image, pooling);
    return STYLE_LAYERS.map((layer) => toTf(outputs[FEATURE_MODEL.gram(layer)]!) as tf.Tensor2D);
  }

  objective(targets: ObjectiveTargets, weights: ObjectiveWeights, pooling: Pooling): ScaleObjective {
    // The targets and weights cross to onnxruntime once per scale; each evaluation sends only the image.
    const fixedFeeds = (async (): Promise<Record<string, ort.Tensor>> => {
      const feeds: Record<string, ort.Tensor> = {
        [OBJECTIVE_MODEL.contentTarget]: await toOrt(targets.content),
        [OBJECTIVE_MODEL.styleCoefficients]: new ort.Tensor('float32', Float32Array.from(styleCoefficients(weights)), [STYLE_LAYERS.length]),
        [OBJECTIVE_MODEL.tvWeight]: new ort.Tensor('float32', Float32Array.of(weights.tvWeight), []),
      };
      for (const [i, layer] of STYLE_LAYERS.entries()) feeds[OBJECTIVE_MODEL.gramTarget(layer)] = await toOrt(targets.styleGrams[i]!);
      return feeds;
    })();
    return {
      evaluate: async (image) => {
        const { objective } = await this.sessionsFor(pooling);
        const outputs = await objective.run({ ...(await fixedFeeds), [OBJECTIVE_MODEL.image]: await toOrt(image) });
        const styleLayerLosses = [...(outputs[OBJECTIVE_MODEL.styleLayerLosses]!.data as Float32Array)];
        return {
          loss: scalarOf(outputs[OBJECTIVE_MODEL.loss]!),
          contentLoss: scalarOf(outputs[OBJECTIVE_MODEL.contentLoss]!),
          styleLoss: styleLossFromLayers(styleLayerLosses, weights.styleLayerWeights),
          styleLayerLosses,
          gradient: toTf(outputs[OBJECTIVE_MODEL.gradient]!) as tf.Tensor4D,
        };
      },
      // Nothing to free: the feeds are plain arrays for the garbage collector.
      dispose: () => undefined,
    };
  }

  assertFits(job: JobFootprint): void {
    assertFitsOnnxJob(job, this.settings.wasmHost);
  }

  dispose(): void {
    this.disposed = true;
    this.sessions.clear();
    for (const session of this.created.splice(0)) releaseSession(session);
  }
}

async function toOrt(tensor: tf.Tensor): Promise<ort.Tensor> {
  return new ort.Tensor('float32', (await tensor.data()) as Float32Array, tensor.shape);
}

function toTf(value: ort.Tensor): tf.Tensor {
  return tf.tensor(value.data as Float32Array, value.dims as number[], 'float32');
}

function scalarOf(value: ort.Tensor): number {
  return (value.data as Float32Array)[0]!;
}

/**
 * Memory a job needs, measured on the CPU provider (it grows linearly with the pixels):
 * - onnxruntime's step: about ONNX_STEP_BYTES_PER_PIXEL of native memory per output pixel. A whole 2048 × 1535 job
 *   (Winograd convolutions, L-BFGS with 10 pairs) peaked at 16.1 GB of RSS, about 1.4 GB of it the process before
 *   the job and 1.3 GB the optimizer's state; the Winograd form's tiles cost about 0.8 KB a pixel of that;
 * - the optimizer's state in the TensorFlow.js host: 12 bytes a pixel per image it keeps (the point, its gradient,
 *   a trial point and its gradient, the direction, temporaries: HOST_IMAGES) and two per L-BFGS curvature pair.
 */
const ONNX_STEP_BYTES_PER_PIXEL = 4_300;
const HOST_IMAGES = 14;
const WASM_HOST_BUDGET_BYTES = 3.5 * 2 ** 30;

function assertFitsOnnxJob(job: JobFootprint, wasmHost: boolean): void {
  const pixels = job.content.width * job.content.height;
  const size = `${job.content.width}×${job.content.height}`;
  const hostBytes = pixels * 12 * (HOST_IMAGES + 2 * job.historySize);
  if (wasmHost && hostBytes > WASM_HOST_BUDGET_BYTES) {
    throw new Error(
      `${size} with ${job.historySize} L-BFGS history pairs needs about ${gibibytes(hostBytes)} GiB for the optimizer's ` +
        `state, more than WebAssembly's 4 GiB heap holds: use a smaller size or a shorter L-BFGS history`,
    );
  }
  const total = hostBytes + pixels * ONNX_STEP_BYTES_PER_PIXEL;
  if (total > totalmem()) {
    throw new Error(
      `${size} needs about ${gibibytes(total)} GiB of memory, more than this computer has (${gibibytes(totalmem())} GiB): ` +
        'use a smaller size',
    );
  }
}
