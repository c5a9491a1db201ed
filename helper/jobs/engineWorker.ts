/**
 * The engine's thread. TensorFlow.js kernels on wasm and cpu run synchronously for seconds at a time; in the
 * HTTP thread they would stall every health and status request. Here they stall nobody.
 * Loads the backend and the weights once, then runs one job at a time as the main thread asks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { MAX_STYLES } from '../../shared/stylizeOptions.js';
import { renderStrengthRow, type ProgressEvent, type RgbImage, type StyleGrams, type StylizeRequest } from '../engine/index.js';
import { liveOnnxSessions } from '../engine/onnx/onnxGatysNetwork.js';
import { loadEngine, type LoadedEngine } from '../loadEngine.js';
import type {
  EngineJobRequest,
  EngineJobResult,
  EngineMemory,
  EngineWorkerConfig,
  FromWorker,
  ToWorker,
} from './workerMessages.js';

const port = parentPort!;
const config = workerData as EngineWorkerConfig;

function send(message: FromWorker): void {
  const transfers: ArrayBufferLike[] = [];
  if (message.type === 'done') transfers.push(...resultImages(message.result).map((image) => image.data.buffer));
  if (message.type === 'progress' && message.preview) transfers.push(message.preview.data.buffer);
  port.postMessage(message, transfers as ArrayBuffer[]);
}

function resultImages(result: EngineJobResult): RgbImage[] {
  return result.kind === 'stylize' ? [result.image] : result.previews.map((preview) => preview.image);
}

/** Gram matrices by style image, scale and pooling, least recently used first. */
class StyleGramCache {
  private readonly entries = new Map<string, StyleGrams>();

  constructor(private readonly capacity: number) {
    // Fewer entries than one scale's styles would evict Grams the running job still holds.
    if (capacity < MAX_STYLES) throw new Error(`the style Gram cache needs at least ${MAX_STYLES} entries, got ${capacity}`);
  }

  async get(key: string, compute: () => Promise<StyleGrams>): Promise<StyleGrams> {
    const cached = this.entries.get(key);
    if (cached) {
      this.entries.delete(key);
      this.entries.set(key, cached);
      return cached;
    }
    const targets = await compute();
    this.entries.set(key, targets);
    while (this.entries.size > this.capacity) {
      const [oldestKey, oldest] = this.entries.entries().next().value!;
      this.entries.delete(oldestKey);
      tf.dispose([...oldest]);
    }
    return targets;
  }

  clear(): void {
    for (const grams of this.entries.values()) tf.dispose([...grams]);
    this.entries.clear();
  }

  get tensorCount(): number {
    let count = 0;
    for (const grams of this.entries.values()) count += grams.length;
    return count;
  }
}

async function start(): Promise<LoadedEngine> {
  const engine = await loadEngine({
    backend: config.backend,
    weightsFlag: config.weightsFlag,
    onWeights: (state) =>
      send({
        type: 'weights',
        weights: {
          status: state.status,
          progress: state.status === 'downloading' && state.total ? Math.min(1, state.received / state.total) : null,
          path: state.path,
        },
      }),
  });
  sendMemory();
  send({ type: 'ready', backend: engine.backend.name, device: engine.backend.device });
  return engine;
}

const styleTargets = new StyleGramCache(config.styleCacheEntries);

function engineMemory(): EngineMemory {
  const memory = tf.memory();
  return { tensors: memory.numTensors, cachedTensors: styleTargets.tensorCount, bytes: memory.numBytes, sessions: liveOnnxSessions() };
}

function sendMemory(): void {
  send({ type: 'memory', memory: engineMemory() });
}
interface RunningJob {
  readonly controller: AbortController;
  /** Iterations done so far, and when the cancel arrived (to report that the job stopped within one). */
  iterations: number;
  canceledAfter: number | null;
}
const runningJobs = new Map<string, RunningJob>();

async function runJob(transfer: LoadedEngine['transfer'], job: EngineJobRequest): Promise<void> {
  const controller = new AbortController();
  const running: RunningJob = { controller, iterations: 0, canceledAfter: null };
  runningJobs.set(job.jobId, running);
  try {
    const { options } = job;
    let lastPreviewAt = Number.NEGATIVE_INFINITY;
    const request: StylizeRequest = {
      content: job.content,
      styles: job.styles,
      // The engine asks once per scale and style image, with a key naming the scaled size, the pooling and any
      // recolouring; the style's own key names its pixels.
      styleTargetCache: (style, scaleKey, compute) => styleTargets.get(`${job.styles[style]!.key}:${scaleKey}`, compute),
      options,
      signal: controller.signal,
      onProgress: async (event: ProgressEvent) => {
        const now = performance.now();
        const { iteration, total } = event.progress;
        running.iterations = iteration;
        const wantsPreview = now - lastPreviewAt >= config.previewIntervalMs || iteration === total;
        if (wantsPreview) lastPreviewAt = now;
        send({
          type: 'progress',
          jobId: job.jobId,
          progress: event.progress,
          preview: wantsPreview ? event.preview(config.previewMaxSide) : null,
        });
        // Lets a 'cancel' message in the queue be handled before the next iteration starts.
        await new Promise((resolve) => setImmediate(resolve));
      },
    };
    const result: EngineJobResult =
      job.kind === 'stylize'
        ? { kind: 'stylize', image: (await transfer.run(request)).image }
        : { kind: 'strength-row', previews: (await renderStrengthRow(transfer, { ...request, strengths: job.strengths })).images };
    sendMemory();
    send({ type: 'done', jobId: job.jobId, result });
  } catch (error) {
    if (controller.signal.aborted) {
      sendMemory();
      const askedAfter = running.canceledAfter ?? running.iterations;
      send({ type: 'canceled', jobId: job.jobId, askedAfter, stoppedAfter: running.iterations });
    } else if (isEngineBreaking(error)) {
      const { content } = job;
      const styles = job.styles.map(({ image }) => `${image.width}×${image.height}`).join(', ');
      send({
        type: 'failed',
        jobId: job.jobId,
        message:
          `the engine ran out of memory (content ${content.width}×${content.height}, style ${styles} pixels: ` +
          `${(error as Error).message}); try a smaller size, a smaller brush or a backend with more memory`,
        engineBroken: true,
      });
    } else {
      sendMemory();
      send({ type: 'failed', jobId: job.jobId, message: error instanceof Error ? error.message : String(error), engineBroken: false });
    }
  } finally {
    runningJobs.delete(job.jobId);
  }
}

/**
 * A WebAssembly trap (typically a failed allocation surfacing as an out-of-bounds access) or an allocation failure
 * leaves the backend's heap in an unknown state: every later job would fail too.
 */
function isEngineBreaking(error: unknown): boolean {
  if (error instanceof WebAssembly.RuntimeError) return true;
  const message = error instanceof Error ? error.message : String(error);
  return /out of memory|memory access out of bounds|table index is out of bounds|maximum memory|allocat/i.test(message);
}

const started = start();
started.catch((error: unknown) => {
  send({ type: 'startup-failed', message: error instanceof Error ? error.message : String(error) });
});

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'run':
      void started.then(({ transfer }) => runJob(transfer, message));
      break;
    case 'cancel': {
      const running = runningJobs.get(message.jobId);
      if (running && !running.controller.signal.aborted) {
        running.canceledAfter = running.iterations;
        running.controller.abort(new Error('canceled'));
      }
      break;
    }
    case 'shutdown':
      void shutdown();
      break;
  }
});

/** Stops the running job, then frees everything the engine holds and says what was left. */
async function shutdown(): Promise<void> {
  for (const { controller } of runningJobs.values()) controller.abort(new Error('the helper is shutting down'));
  const engine = await started.catch(() => undefined);
  // A job stops within one iteration; its own tensors are freed as it unwinds.
  while (runningJobs.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  styleTargets.clear();
  engine?.dispose();
  send({ type: 'closed', memory: engineMemory() });
}
