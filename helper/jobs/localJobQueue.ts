import { randomUUID } from 'node:crypto';
import type { ErrorCode, JobKind, JobPreview, JobProgress, JobState, JobStatus } from '../../shared/protocol.js';
import { notStartedProgress } from '../../shared/stylizeProgress.js';
import { encodePng } from '../imageio/index.js';
import type { EngineHost, EngineJobOutcome } from './engineHost.js';
import { jobIterations, QueueFullError, type JobInput, type JobOwner, type JobQueue, type QueueLoad, type QueuePlaces } from './jobQueue.js';
import { encodeResult, type JobResult, resultSize } from './jobResult.js';
import type { EngineProgress } from './workerMessages.js';

interface Job {
  readonly id: string;
  /** Its owner's id. */
  readonly owner: string;
  readonly kind: JobKind;
  /** Dropped once handed to the engine, so that finished jobs keep only their result. */
  input: JobInput | null;
  state: JobState;
  progress: JobProgress;
  preview: JobPreview | null;
  /** Once done. */
  result: JobResult | null;
  error: { code: ErrorCode; message: string } | null;
  finishedAt: number | null;
}

export interface LocalJobQueueOptions {
  /** Jobs waiting behind the running one; more are refused (429). */
  readonly maxQueued: number;
  /** How long finished jobs (and their results) are kept. */
  readonly keepFinishedMs: number;
  readonly log: (line: string) => void;
}

/**
 * The helper's queue: jobs in arrival order, one at a time on the helper's own engine. Finished jobs are kept for a
 * while so that their result can be fetched, then purged.
 */
export class LocalJobQueue implements JobQueue {
  private readonly jobs = new Map<string, Job>();
  private readonly waiting: Job[] = [];
  private running: Job | undefined;
  /** Places held by requests whose images are being decoded. */
  private reserved = 0;
  private readonly purgeTimer: NodeJS.Timeout;
  private accepting = true;

  constructor(
    private readonly engine: EngineHost,
    private readonly options: LocalJobQueueOptions,
  ) {
    this.purgeTimer = setInterval(() => this.purge(), Math.min(60_000, options.keepFinishedMs)).unref();
    engine.on('ready', () => this.startNext());
  }

  async load(): Promise<QueueLoad> {
    return { queueLength: this.waiting.length, busy: this.running !== undefined };
  }

  /** The queue takes maxQueued jobs behind the running one; a batch that does not fit whole is refused whole. */
  async reserve(owner: JobOwner, count: number): Promise<QueuePlaces> {
    if (!this.accepting) throw new QueueFullError('the helper is shutting down');
    const ahead = this.waiting.length + this.reserved + (this.running ? 1 : 0);
    if (ahead + count > this.options.maxQueued + 1) {
      const asked = count > 1 ? `; ${count} jobs do not fit` : '';
      throw new QueueFullError(`the queue is full (${this.options.maxQueued} jobs waiting${asked}); try again later`);
    }
    this.reserved += count;
    let held = true;
    const release = (): void => {
      if (held) this.reserved -= count;
      held = false;
    };
    return {
      submit: async (inputs) => {
        if (!held) throw new Error('these queue places were already used or given back');
        if (inputs.length !== count) throw new Error(`${count} places were reserved for ${inputs.length} jobs`);
        release();
        return inputs.map((input) => this.enqueue(owner.id, input));
      },
      release,
    };
  }

  private enqueue(owner: string, input: JobInput): string {
    if (!this.accepting) throw new QueueFullError('the helper is shutting down');
    const job: Job = {
      id: randomUUID(),
      owner,
      kind: input.kind,
      input,
      state: 'queued',
      progress: notStartedProgress(jobIterations(input)),
      preview: null,
      result: null,
      error: null,
      finishedAt: null,
    };
    this.jobs.set(job.id, job);
    this.waiting.push(job);
    this.options.log(
      `job ${job.id} queued (${input.kind}, ${input.content.width}×${input.content.height}, ` +
        `${input.styles.length} style${input.styles.length > 1 ? 's' : ''}, ${job.progress.total} iterations)`,
    );
    this.startNext();
    return job.id;
  }

  async status(owner: JobOwner, id: string, previewAfter = -1): Promise<JobStatus | undefined> {
    const job = this.jobOf(owner, id);
    if (!job) return undefined;
    const position = this.waiting.indexOf(job);
    return {
      id: job.id,
      kind: job.kind,
      status: job.state,
      queuePosition: position >= 0 ? position + 1 : null,
      progress: job.progress,
      preview: job.preview && job.preview.iteration > previewAfter ? job.preview : null,
      result: job.result && resultSize(job.result),
      error: job.error,
      restarts: 0,
    };
  }

  async result(owner: JobOwner, id: string): Promise<JobResult | null | undefined> {
    return this.jobOf(owner, id)?.result;
  }

  async cancel(owner: JobOwner, id: string): Promise<boolean> {
    const job = this.jobOf(owner, id);
    if (!job) return false;
    this.cancelJob(job);
    return true;
  }

  private cancelJob(job: Job): void {
    if (job.state === 'queued') {
      this.waiting.splice(this.waiting.indexOf(job), 1);
      this.finish(job, 'canceled');
    } else if (job.state === 'running') {
      // Shown as canceled at once; the engine stops within one iteration and only then takes the next job.
      this.finish(job, 'canceled');
      this.engine.cancel(job.id);
    }
  }

  /** Stops taking jobs and cancels every queued and running one. */
  async shutdown(): Promise<void> {
    this.accepting = false;
    clearInterval(this.purgeTimer);
    for (const job of [...this.waiting, ...(this.running ? [this.running] : [])]) this.cancelJob(job);
  }

  /** The job, if it is `owner`'s. */
  private jobOf(owner: JobOwner, id: string): Job | undefined {
    const job = this.jobs.get(id);
    return job?.owner === owner.id ? job : undefined;
  }

  private startNext(): void {
    if (this.running || this.engine.status.status !== 'ready') return;
    const job = this.waiting.shift();
    if (!job) return;
    this.running = job;
    job.state = 'running';
    this.options.log(`job ${job.id} running`);
    const outcome = this.engine.run(
      { jobId: job.id, ...job.input! },
      { onProgress: (progress) => this.recordProgress(job, progress) },
    );
    job.input = null;
    void outcome
      .then((outcome) => this.complete(job, outcome))
      .catch((error: unknown) => this.complete(job, { kind: 'failed', message: String(error) }))
      .finally(() => {
        this.running = undefined;
        this.startNext();
      });
  }

  private recordProgress(job: Job, { progress, preview }: EngineProgress): void {
    if (job.state !== 'running') return;
    job.progress = progress;
    if (preview) {
      void encodePng(preview).then((png) => {
        if (job.state === 'running' && (job.preview?.iteration ?? -1) < progress.iteration) {
          job.preview = { iteration: progress.iteration, width: preview.width, height: preview.height, png: png.toString('base64') };
        }
      });
    }
  }

  private async complete(job: Job, outcome: EngineJobOutcome): Promise<void> {
    if (job.state !== 'running') return; // canceled meanwhile
    if (outcome.kind === 'done') {
      job.result = await encodeResult(outcome.result);
      this.finish(job, 'done');
    } else if (outcome.kind === 'failed') {
      job.error = { code: 'job-failed', message: outcome.message };
      this.finish(job, 'failed');
    } else {
      this.finish(job, 'canceled');
    }
  }

  private finish(job: Job, state: 'done' | 'failed' | 'canceled'): void {
    job.input = null;
    job.state = state;
    job.finishedAt = Date.now();
    const detail = job.error ? `: ${job.error.message}` : '';
    this.options.log(`job ${job.id} ${state}${detail}`);
  }

  private purge(): void {
    const cutoff = Date.now() - this.options.keepFinishedMs;
    for (const [id, job] of this.jobs) {
      if (job.finishedAt !== null && job.finishedAt < cutoff) this.jobs.delete(id);
    }
  }
}
