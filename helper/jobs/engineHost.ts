import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Health } from '../../shared/protocol.js';
import type {
  CanceledAt,
  EngineJobRequest,
  EngineJobResult,
  EngineMemory,
  EngineProgress,
  EngineWorkerConfig,
  FromWorker,
  ToWorker,
  WeightsState,
} from './workerMessages.js';

export interface EngineJobHandlers {
  onProgress(progress: EngineProgress): void;
}

export type EngineJobOutcome =
  | { readonly kind: 'done'; readonly result: EngineJobResult }
  | { readonly kind: 'failed'; readonly message: string }
  /** `at` says where the engine stopped, when it was the engine that stopped it (not a shutdown). */
  | { readonly kind: 'canceled'; readonly at?: CanceledAt };

/**
 * The engine worker must be JavaScript: from the compiled tree it sits beside this file; when this file runs as
 * TypeScript source (tests), the compiled copy from `npm run build` is used.
 */
function engineWorkerUrl(): URL {
  const compiled = import.meta.url.endsWith('.ts')
    ? new URL('../../dist/helper/jobs/engineWorker.js', import.meta.url)
    : new URL('./engineWorker.js', import.meta.url);
  if (!existsSync(compiled)) throw new Error(`the engine worker ${compiled.pathname} is missing: run \`npm run build\``);
  return compiled;
}

export interface EngineHostOptions {
  /**
   * A running job whose engine reports no iteration for this long is failed and the engine replaced. A kernel that
   * runs out of WebAssembly memory in the threaded build spins forever instead of trapping; without this, every later
   * job would wait behind it. Far above one step of the largest job (47 s at 1024 × 1024 on two cores).
   */
  readonly stallTimeoutMs: number;
}

const DEFAULT_HOST_OPTIONS: EngineHostOptions = { stallTimeoutMs: 10 * 60_000 };

/** How long close() waits for the worker to free its engine before ending it anyway. */
const SHUTDOWN_TIMEOUT_MS = 5_000;

/**
 * The main thread's handle on the engine worker: its start-up state for health, and one job at a time.
 * If the worker dies (out of memory, a crash in native code) or stalls, the job it ran fails and a fresh worker starts.
 */
export class EngineHost extends EventEmitter {
  private worker: Worker | undefined;
  private state: { status: Health['status']; message: string | null; backend: string | null; device: string | null } = {
    status: 'starting',
    message: null,
    backend: null,
    device: null,
  };
  private weightsState: WeightsState = { status: 'locating', progress: null, path: null };
  private current: { jobId: string; handlers: EngineJobHandlers; finish: (outcome: EngineJobOutcome) => void } | undefined;
  private readyWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private lastMemory: EngineMemory | null = null;
  private closed = false;
  private stallTimer: NodeJS.Timeout | undefined;
  private readonly options: EngineHostOptions;

  constructor(
    private readonly config: EngineWorkerConfig,
    options: Partial<EngineHostOptions> = {},
  ) {
    super();
    this.options = { ...DEFAULT_HOST_OPTIONS, ...options };
    this.spawn();
  }

  get status(): typeof this.state {
    return this.state;
  }

  get weights(): WeightsState {
    return this.weightsState;
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  /** Resolves once the backend and weights are loaded; rejects if they cannot be. */
  ready(): Promise<void> {
    if (this.state.status === 'ready') return Promise.resolve();
    if (this.state.status === 'error') return Promise.reject(new Error(this.state.message ?? 'the engine failed to start'));
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Runs one job; resolves with its outcome (never rejects). Only one job may run at a time. */
  run(job: EngineJobRequest, handlers: EngineJobHandlers): Promise<EngineJobOutcome> {
    if (this.current) throw new Error('the engine is already running a job');
    if (!this.worker) return Promise.resolve({ kind: 'failed', message: 'the engine is not running' });
    return new Promise((resolve) => {
      this.current = {
        jobId: job.jobId,
        handlers,
        finish: (outcome) => {
          clearTimeout(this.stallTimer);
          this.current = undefined;
          resolve(outcome);
        },
      };
      this.watchForStall();
      this.post({ type: 'run', ...job });
    });
  }

  cancel(jobId: string): void {
    if (this.current?.jobId === jobId) this.post({ type: 'cancel', jobId });
  }

  /** The engine's memory as of its start or its last job; null while (re)starting. */
  get memory(): EngineMemory | null {
    return this.state.status === 'ready' ? this.lastMemory : null;
  }

  /**
   * Stops the engine: the worker cancels its job, frees what it holds (the network's weights and onnxruntime
   * sessions, the style cache) and ends. Resolves to what it still held then (all zero when nothing leaked), or null
   * when it did not answer within SHUTDOWN_TIMEOUT_MS (a job stuck in one long iteration): it is ended regardless.
   */
  async close(): Promise<EngineMemory | null> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.current?.finish({ kind: 'canceled' });
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(new Error('the helper is shutting down'));
    if (!worker) return null;
    const released = new Promise<EngineMemory | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), SHUTDOWN_TIMEOUT_MS);
      worker.on('message', (message: FromWorker) => {
        if (message.type !== 'closed') return;
        clearTimeout(timer);
        resolve(message.memory);
      });
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve(null);
      });
    });
    worker.postMessage({ type: 'shutdown' } satisfies ToWorker);
    const memory = await released;
    await worker.terminate();
    return memory;
  }

  private post(message: ToWorker): void {
    this.worker?.postMessage(message);
  }

  private spawn(): void {
    const worker = new Worker(engineWorkerUrl(), { workerData: this.config });
    this.worker = worker;
    worker.on('message', (message: FromWorker) => this.handle(message));
    worker.on('error', (error) => this.workerDied(worker, error.message));
    worker.on('exit', (code) => this.workerDied(worker, `the engine stopped unexpectedly (exit code ${code})`));
  }

  private handle(message: FromWorker): void {
    switch (message.type) {
      case 'weights':
        this.weightsState = message.weights;
        break;
      case 'ready':
        this.state = { status: 'ready', message: null, backend: message.backend, device: message.device };
        for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
        this.emit('ready');
        break;
      case 'startup-failed':
        this.state = { ...this.state, status: 'error', message: message.message };
        if (this.weightsState.status !== 'ready') this.weightsState = { ...this.weightsState, status: 'error' };
        for (const waiter of this.readyWaiters.splice(0)) waiter.reject(new Error(message.message));
        break;
      case 'progress':
        if (this.current?.jobId === message.jobId) {
          this.watchForStall();
          this.current.handlers.onProgress(message);
        }
        break;
      case 'done':
        if (this.current?.jobId === message.jobId) this.current.finish({ kind: 'done', result: message.result });
        break;
      case 'failed':
        if (message.engineBroken) {
          this.restart(`${message.message}; the engine restarted`);
        } else if (this.current?.jobId === message.jobId) {
          this.current.finish({ kind: 'failed', message: message.message });
        }
        break;
      case 'canceled':
        if (this.current?.jobId === message.jobId) {
          this.current.finish({ kind: 'canceled', at: { askedAfter: message.askedAfter, stoppedAfter: message.stoppedAfter } });
        }
        break;
      case 'memory':
        this.lastMemory = message.memory;
        break;
      case 'closed':
        break;
    }
  }

  private workerDied(worker: Worker, reason: string): void {
    if (this.worker !== worker || this.closed) return;
    if (this.state.status === 'ready') {
      this.restart(`${reason}; the engine restarted`);
      return;
    }
    // It never started: restarting would fail the same way. Health reports why.
    this.worker = undefined;
    this.state = { ...this.state, status: 'error', message: this.state.message ?? reason };
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(new Error(this.state.message!));
  }

  /** (Re)starts the countdown to declaring the running job's engine stuck. */
  private watchForStall(): void {
    clearTimeout(this.stallTimer);
    const seconds = this.options.stallTimeoutMs / 1000;
    this.stallTimer = setTimeout(
      () => this.restart(`the engine reported no progress for ${seconds} s (an iteration hung); the engine restarted`),
      this.options.stallTimeoutMs,
    );
  }

  /** Fails the running job with `reason`, replaces the worker with a fresh one (which loads everything again). */
  private restart(reason: string): void {
    const broken = this.worker;
    this.worker = undefined;
    void broken?.terminate();
    this.lastMemory = null;
    this.current?.finish({ kind: 'failed', message: reason });
    this.state = { status: 'starting', message: null, backend: null, device: null };
    this.spawn();
  }
}
