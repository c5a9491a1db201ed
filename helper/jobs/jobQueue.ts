import { randomUUID } from 'node:crypto';
import type { ErrorCode, JobKind, JobPreview, JobProgress, JobState, JobStatus } from '../../shared/protocol.js';
import { notStartedProgress } from '../../shared/stylizeProgress.js';
import type { RgbImage } from '../engine/rgbImage.js';
import { encodePng } from '../imageio/index.js';
import type { EngineHost, EngineJobOutcome } from './engineHost.js';
import type { EngineJobInput, EngineJobResult, EngineProgress } from './workerMessages.js';

export type JobInput = EngineJobInput;

/** A PNG and its size. */
export interface EncodedImage {
  readonly png: Buffer;
  readonly width: number;
  readonly height: number;
}

/** A finished job's images, as PNG. */
export type JobResult =
  | ({ readonly kind: 'stylize' } & EncodedImage)
  | { readonly kind: 'strength-row'; readonly previews: ReadonlyArray<EncodedImage & { readonly strength: number }> };

interface Job {
  readonly id: string;
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

export interface JobQueueOptions {
  /** Jobs waiting behind the running one; more are refused (429). */
  readonly maxQueued: number;
  /** How long finished jobs (and their results) are kept. */
  readonly keepFinishedMs: number;
  readonly log: (line: string) => void;
}

export class QueueFullError extends Error {}

/** A place held in the queue while a job's images are decoded (see JobQueue.reserve). */
export interface QueuePlace {
  /** Queues the job in this place; returns its id. */
  submit(input: JobInput): string;
  /** Gives the place back unused; does nothing once the job is submitted. */
  release(): void;
}

/**
 * Jobs in arrival order, one at a time on the engine. Finished jobs are kept for a while so that their result can be
 * fetched, then purged.
 */
export class JobQueue {
  private readonly jobs = new Map<string, Job>();
  private readonly waiting: Job[] = [];
  private running: Job | undefined;
  /** Places held by requests whose images are being decoded. */
  private reserved = 0;
  private readonly purgeTimer: NodeJS.Timeout;
  private accepting = true;

  constructor(
    private readonly engine: EngineHost,
    private readonly options: JobQueueOptions,
  ) {
    this.purgeTimer = setInterval(() => this.purge(), Math.min(60_000, options.keepFinishedMs)).unref();
    engine.on('ready', () => this.startNext());
  }

  get length(): number {
    return this.waiting.length;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /**
   * Holds a place for a job before its images are decoded: a full queue is refused (QueueFullError) before that
   * work, and concurrent requests cannot all decode for the last place. The queue takes maxQueued jobs behind the
   * running one.
   */
  reserve(): QueuePlace {
    if (!this.accepting) throw new QueueFullError('the helper is shutting down');
    const ahead = this.waiting.length + this.reserved + (this.running ? 1 : 0);
    if (ahead >= this.options.maxQueued + 1) {
      throw new QueueFullError(`the queue is full (${this.options.maxQueued} jobs waiting); try again later`);
    }
    this.reserved += 1;
    let held = true;
    const release = (): void => {
      if (held) this.reserved -= 1;
      held = false;
    };
    return {
      submit: (input) => {
        if (!held) throw new Error('this queue place was already used or given back');
        release();
        return this.enqueue(input);
      },
      release,
    };
  }

  private enqueue(input: JobInput): string {
    if (!this.accepting) throw new QueueFullError('the helper is shutting down');
    // A strength row's progress counts the iterations of all its previews.
    const images = input.kind === 'strength-row' ? input.strengths.length : 1;
    const job: Job = {
      id: randomUUID(),
      kind: input.kind,
      input,
      state: 'queued',
      progress: notStartedProgress(input.options.iterations * images),
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

  /** The job's state; with previewAfter, the preview only if it is newer than that iteration. */
  status(id: string, previewAfter = -1): JobStatus | undefined {
    const job = this.jobs.get(id);
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
    };
  }

  result(id: string): Job['result'] | undefined {
    return this.jobs.get(id)?.result;
  }

  /** Cancels a queued or running job; finished jobs stay as they are. Returns false for an unknown id. */
  cancel(id: string): boolean {
    const job = this.jobs.get(id);
    if (!job) return false;
    if (job.state === 'queued') {
      this.waiting.splice(this.waiting.indexOf(job), 1);
      this.finish(job, 'canceled');
    } else if (job.state === 'running') {
      // Shown as canceled at once; the engine stops within one iteration and only then takes the next job.
      this.finish(job, 'canceled');
      this.engine.cancel(job.id);
    }
    return true;
  }

  /** Stops taking jobs and cancels every queued and running one. */
  shutdown(): void {
    this.accepting = false;
    clearInterval(this.purgeTimer);
    for (const job of [...this.waiting, ...(this.running ? [this.running] : [])]) this.cancel(job.id);
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

async function encodeImage(image: RgbImage): Promise<EncodedImage> {
  return { png: await encodePng(image), width: image.width, height: image.height };
}

async function encodeResult(result: EngineJobResult): Promise<JobResult> {
  if (result.kind === 'stylize') return { kind: 'stylize', ...(await encodeImage(result.image)) };
  const previews = await Promise.all(
    result.previews.map(async ({ strength, image }) => ({ strength, ...(await encodeImage(image)) })),
  );
  return { kind: 'strength-row', previews };
}

/** The size status reports: the image's, or each preview's of a strength row (they share one). */
function resultSize(result: JobResult): { width: number; height: number } {
  const { width, height } = result.kind === 'stylize' ? result : result.previews[0]!;
  return { width, height };
}
