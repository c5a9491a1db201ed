/**
 * The engine's thread. TensorFlow.js kernels on wasm and cpu run synchronously for seconds at a time; in the
 * HTTP thread they would stall every health and status request. Here they stall nobody.
 * Loads the backend and the weights once, then runs one job at a time as the main thread asks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import {
  StyleTransfer,
  Vgg19Features,
  disposeStyleGramTargets,
  preferredGradientPath,
  selectBackend,
  type StyleGramTargets,
} from '../engine/index.js';
import { ensureWeights, locateWeights } from '../weights/locate.js';
import { readVggWeightsFile } from '../weights/vggH5.js';
import type { EngineJobRequest, EngineWorkerConfig, FromWorker, ToWorker } from './workerMessages.js';

const port = parentPort!;
const config = workerData as EngineWorkerConfig;

function send(message: FromWorker): void {
  const transfers = 'image' in message ? [message.image.data.buffer] : [];
  if (message.type === 'progress' && message.preview) transfers.push(message.preview.data.buffer);
  port.postMessage(message, transfers as ArrayBuffer[]);
}

/** Gram targets by style image, scale and pooling, least recently used first. */
class StyleGramTargetCache {
  private readonly entries = new Map<string, StyleGramTargets>();

  constructor(private readonly capacity: number) {}

  get(key: string, compute: () => StyleGramTargets): StyleGramTargets {
    const cached = this.entries.get(key);
    if (cached) {
      this.entries.delete(key);
      this.entries.set(key, cached);
      return cached;
    }
    const targets = compute();
    this.entries.set(key, targets);
    while (this.entries.size > this.capacity) {
      const [oldestKey, oldest] = this.entries.entries().next().value!;
      this.entries.delete(oldestKey);
      disposeStyleGramTargets(oldest);
    }
    return targets;
  }

  get tensorCount(): number {
    let count = 0;
    for (const targets of this.entries.values()) count += targets.size * 2;
    return count;
  }
}

async function start(): Promise<{ transfer: StyleTransfer }> {
  const backend = await selectBackend(config.backend);
  const location = locateWeights({ flag: config.weightsFlag });
  send({ type: 'weights', weights: { status: location.exists ? 'loading' : 'downloading', progress: null, path: location.path } });
  const weightsPath = await ensureWeights({
    flag: config.weightsFlag,
    onProgress: (received, total) =>
      send({
        type: 'weights',
        weights: { status: 'downloading', progress: total ? Math.min(1, received / total) : null, path: location.path },
      }),
  });
  send({ type: 'weights', weights: { status: 'loading', progress: null, path: weightsPath } });
  const network = new Vgg19Features(await readVggWeightsFile(weightsPath), preferredGradientPath(backend.name));
  send({ type: 'weights', weights: { status: 'ready', progress: null, path: weightsPath } });
  sendMemory();
  send({ type: 'ready', backend: backend.name, device: backend.device });
  return { transfer: new StyleTransfer(network) };
}

const styleTargets = new StyleGramTargetCache(config.styleCacheEntries);

function sendMemory(): void {
  const memory = tf.memory();
  send({ type: 'memory', tensors: memory.numTensors, cachedTensors: styleTargets.tensorCount, bytes: memory.numBytes });
}
const runningJobs = new Map<string, AbortController>();

async function runJob(transfer: StyleTransfer, job: EngineJobRequest): Promise<void> {
  const controller = new AbortController();
  runningJobs.set(job.jobId, controller);
  try {
    const { options } = job;
    let lastPreviewAt = Number.NEGATIVE_INFINITY;
    const result = await transfer.run({
      content: job.content,
      style: job.style,
      // The engine asks once per scale, with a key naming the scaled size and the pooling.
      styleTargetCache: (scaleKey, compute) => styleTargets.get(`${job.styleKey}:${scaleKey}`, compute),
      options,
      signal: controller.signal,
      onProgress: async (event) => {
        const now = performance.now();
        const wantsPreview = now - lastPreviewAt >= config.previewIntervalMs || event.iteration === event.total;
        if (wantsPreview) lastPreviewAt = now;
        send({
          type: 'progress',
          jobId: job.jobId,
          iteration: event.iteration,
          total: event.total,
          contentLoss: event.contentLoss,
          styleLoss: event.styleLoss,
          elapsedMs: event.elapsedMs,
          preview: wantsPreview ? event.preview(config.previewMaxSide) : null,
        });
        // Lets a 'cancel' message in the queue be handled before the next iteration starts.
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    sendMemory();
    send({ type: 'done', jobId: job.jobId, image: result.image });
  } catch (error) {
    if (controller.signal.aborted) {
      sendMemory();
      send({ type: 'canceled', jobId: job.jobId });
    } else if (isEngineBreaking(error)) {
      const { content, style } = job;
      send({
        type: 'failed',
        jobId: job.jobId,
        message:
          `the engine ran out of memory (content ${content.width}×${content.height}, style ${style.width}×` +
          `${style.height} pixels: ${(error as Error).message}); try a smaller size or a backend with more memory`,
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
    case 'cancel':
      runningJobs.get(message.jobId)?.abort(new Error('canceled'));
      break;
  }
});
