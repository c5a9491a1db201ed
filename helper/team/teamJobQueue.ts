import { randomUUID } from 'node:crypto';
import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { jobKindSchema, type JobKind, type JobState, type JobStatus } from '../../shared/protocol.js';
import { notStartedProgress, stylizeProgressSchema } from '../../shared/stylizeProgress.js';
import { jobIterations, QueueFullError, type JobInput, type JobQueue, type QueueLoad, type QueuePlaces } from '../jobs/jobQueue.js';
import type { JobResult } from '../jobs/jobResult.js';
import type { BlobStore } from './blobStore.js';
import { CANCEL_CHANNEL, jobBlobs, QUEUE_NAME, QUEUE_PREFIX, teamKeys } from './teamKeys.js';
import { inputBlobNames, resultFromBlob, storeJobInput, teamJobDataSchema, type TeamJobData } from './teamJob.js';

export interface TeamJobQueueOptions {
  /** Jobs one user may have waiting (not yet running); more are refused (429). */
  readonly maxWaitingPerUser: number;
  /** How long a job may wait for a worker before its images expire. */
  readonly maxWaitMs: number;
  /** How long finished jobs, their previews and results are kept. */
  readonly keepFinishedMs: number;
  readonly log: (line: string) => void;
}

/** BullMQ's highest priority number (the lowest priority). */
const MAX_PRIORITY = 2 ** 21;

/** BullMQ's states of a job that has not started. */
const WAITING_STATES = new Set(['waiting', 'prioritized', 'delayed', 'waiting-children']);

/** The message of a failed job that was canceled (the worker ends a canceled job by failing it with this). */
export const CANCELED_REASON = 'canceled';

interface JobRecord {
  readonly owner: string;
  readonly kind: JobKind;
  readonly canceled: boolean;
  readonly total: number;
}

/**
 * The gateway's queue: jobs in BullMQ on Redis, run by `gramstyle worker` processes on any number of hosts
 * (team/teamWorker.ts). The job carries its owner, options and the names of its images, which live in the blob store.
 *
 * Fairness without BullMQ Pro's groups: a job's priority number is 1 + the jobs its user already has waiting, so a
 * user's tenth job waits behind everyone's first, and one designer's batch cannot starve another's single job.
 */
export class TeamJobQueue implements JobQueue {
  private readonly queue: Queue;
  /** Places held by this gateway's requests whose images are being decoded, by user. */
  private readonly reserved = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly store: BlobStore,
    private readonly options: TeamJobQueueOptions,
  ) {
    this.queue = new Queue(QUEUE_NAME, { connection: redis, prefix: QUEUE_PREFIX });
    this.queue.on('error', (error) => options.log(`queue error: ${error.message}`));
  }

  async reserve(owner: string, count: number): Promise<QueuePlaces> {
    const waiting = await this.waitingJobsOf(owner);
    const held = this.reserved.get(owner) ?? 0;
    const quota = this.options.maxWaitingPerUser;
    if (waiting + held + count > quota) {
      const asked = count > 1 ? `${count} more jobs do not fit` : 'no more fit';
      throw new QueueFullError(
        `you have ${waiting + held} job${waiting + held === 1 ? '' : 's'} waiting and may have at most ${quota}: ${asked}; ` +
          'try again once some have started',
      );
    }
    this.reserved.set(owner, held + count);
    let holding = true;
    const release = (): void => {
      if (!holding) return;
      holding = false;
      const left = (this.reserved.get(owner) ?? count) - count;
      if (left > 0) this.reserved.set(owner, left);
      else this.reserved.delete(owner);
    };
    return {
      submit: async (inputs) => {
        if (!holding) throw new Error('these queue places were already used or given back');
        if (inputs.length !== count) throw new Error(`${count} places were reserved for ${inputs.length} jobs`);
        try {
          return await this.add(owner, inputs);
        } finally {
          release();
        }
      },
      release,
    };
  }

  private async add(owner: string, inputs: readonly JobInput[]): Promise<string[]> {
    const { maxWaitMs, keepFinishedMs } = this.options;
    const ids = inputs.map(() => randomUUID());
    const data = await Promise.all(
      inputs.map((input, index) => storeJobInput(this.store, ids[index]!, owner, input, { ttlMs: maxWaitMs, keepFinishedMs })),
    );
    const waitingBefore = await this.waitingJobsOf(owner);
    const recordTtlMs = maxWaitMs + keepFinishedMs;
    const records = this.redis.multi();
    for (const [index, id] of ids.entries()) {
      const input = inputs[index]!;
      const record = { owner, kind: input.kind, canceled: 0, total: jobIterations(input) };
      records.hset(teamKeys.jobRecord(id), record).pexpire(teamKeys.jobRecord(id), recordTtlMs);
    }
    await records.exec();
    await this.queue.addBulk(
      ids.map((id, index) => ({
        name: data[index]!.kind,
        data: data[index]!,
        opts: {
          jobId: id,
          priority: Math.min(MAX_PRIORITY, waitingBefore + index + 1),
          attempts: 1,
          removeOnComplete: { age: Math.ceil(keepFinishedMs / 1000) },
          removeOnFail: { age: Math.ceil(keepFinishedMs / 1000) },
        },
      })),
    );
    // Only once BullMQ knows them: the set forgets ids whose jobs it does not find.
    await this.redis.sadd(teamKeys.userJobs(owner), ...ids);
    this.options.log(`${ids.length > 1 ? `${ids.length} jobs` : 'job'} of ${owner} queued: ${ids.join(', ')}`);
    return ids;
  }

  async status(owner: string, id: string, previewAfter = -1): Promise<JobStatus | undefined> {
    const record = await this.recordOf(owner, id);
    if (!record) return undefined;
    const job = await Job.fromId<TeamJobData>(this.queue, id);
    if (!job) {
      // A canceled waiting job is removed from the queue; its record remembers it until it expires.
      return record.canceled ? this.statusOf(id, 'canceled', record, null, null) : undefined;
    }
    const bullState = await job.getState();
    const state = stateOf(bullState, record, job.failedReason);
    const queuePosition = state === 'queued' ? await this.positionOf(id) : null;
    const status = this.statusOf(id, state, record, job, queuePosition);
    const [preview, result] = await Promise.all([
      state === 'running' || state === 'done' ? this.previewNewerThan(id, previewAfter) : null,
      state === 'done' ? this.store.meta(jobBlobs.result(id)) : null,
    ]);
    return {
      ...status,
      preview,
      result: result ? { width: result.width!, height: result.height! } : null,
    };
  }

  private statusOf(id: string, state: JobState, record: JobRecord, job: Job<TeamJobData> | null, queuePosition: number | null): JobStatus {
    const progress = stylizeProgressSchema.safeParse(job?.progress);
    const failed = state === 'failed';
    return {
      id,
      kind: record.kind,
      status: state,
      queuePosition,
      progress: progress.success ? progress.data : notStartedProgress(record.total),
      preview: null,
      result: null,
      error: failed ? { code: 'job-failed', message: failureMessage(job?.failedReason) } : null,
      restarts: job?.stalledCounter ?? 0,
    };
  }

  async result(owner: string, id: string): Promise<JobResult | null | undefined> {
    const record = await this.recordOf(owner, id);
    if (!record) return undefined;
    const blob = await this.store.get(jobBlobs.result(id));
    if (!blob) return (await this.status(owner, id)) ? null : undefined;
    return resultFromBlob(record.kind, blob);
  }

  async cancel(owner: string, id: string): Promise<boolean> {
    const record = await this.recordOf(owner, id);
    if (!record) return false;
    const job = await Job.fromId<TeamJobData>(this.queue, id);
    if (!job || record.canceled) return true;
    const state = await job.getState();
    if (state === 'completed' || state === 'failed' || state === 'unknown') return true;
    // First the mark: a worker that takes the job from now on reads it and does not run it.
    await this.redis.hset(teamKeys.jobRecord(id), 'canceled', 1);
    if (WAITING_STATES.has(state)) {
      try {
        await job.remove();
        await this.forget(owner, id, job.data);
        this.options.log(`job ${id} of ${owner} canceled while waiting`);
        return true;
      } catch {
        // A worker took it meanwhile (a running job is locked): it stops it as below.
      }
    }
    await this.redis.publish(CANCEL_CHANNEL, id);
    this.options.log(`job ${id} of ${owner} canceled while running: asked its worker to stop it`);
    return true;
  }

  async load(): Promise<QueueLoad> {
    const counts = await this.queue.getJobCounts('wait', 'prioritized', 'delayed', 'active');
    return { queueLength: (counts.wait ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0), busy: (counts.active ?? 0) > 0 };
  }

  async shutdown(): Promise<void> {
    // The jobs are the workers' and Redis's: they run on without this gateway.
    await this.queue.close();
  }

  private async recordOf(owner: string, id: string): Promise<JobRecord | undefined> {
    const record = await this.redis.hgetall(teamKeys.jobRecord(id));
    if (record.owner !== owner) return undefined;
    return { owner, kind: jobKindSchema.parse(record.kind), canceled: record.canceled === '1', total: Number(record.total) };
  }

  /** 1 = next to run: among everyone's waiting jobs, in the order workers take them (none of theirs is shown). */
  private async positionOf(id: string): Promise<number | null> {
    // Jobs a stalled worker left go back to the plain wait list, which workers empty before the prioritized jobs.
    const [restarted, prioritized] = await Promise.all([
      this.queue.getRanges(['wait'], 0, -1, true),
      this.queue.getRanges(['prioritized'], 0, -1, true),
    ]);
    const index = [...restarted, ...prioritized].indexOf(id);
    return index >= 0 ? index + 1 : null;
  }

  private async previewNewerThan(id: string, previewAfter: number): Promise<JobStatus['preview']> {
    const meta = await this.store.meta(jobBlobs.preview(id));
    if (!meta || meta.iteration! <= previewAfter) return null;
    const blob = await this.store.get(jobBlobs.preview(id));
    if (!blob) return null;
    const { iteration, width, height } = blob.meta;
    return { iteration: iteration!, width: width!, height: height!, png: blob.bytes.toString('base64') };
  }

  /** The user's waiting jobs; forgets from their set those that have finished or are gone. */
  private async waitingJobsOf(owner: string): Promise<number> {
    const ids = await this.redis.smembers(teamKeys.userJobs(owner));
    const states = await Promise.all(ids.map((id) => this.queue.getJobState(id)));
    const finished = ids.filter((_, index) => ['completed', 'failed', 'unknown'].includes(states[index]!));
    if (finished.length > 0) await this.redis.srem(teamKeys.userJobs(owner), ...finished);
    return states.filter((state) => WAITING_STATES.has(state)).length;
  }

  private async forget(owner: string, id: string, data: TeamJobData): Promise<void> {
    await this.redis.pexpire(teamKeys.jobRecord(id), this.options.keepFinishedMs);
    await this.redis.srem(teamKeys.userJobs(owner), id);
    await this.store.delete(inputBlobNames(teamJobDataSchema.parse(data)));
  }
}

function stateOf(bullState: string, record: JobRecord, failedReason: string | undefined): JobState {
  // Shown as canceled at once, as the helper does; the worker stops within one iteration.
  if (record.canceled && bullState !== 'completed') return 'canceled';
  if (WAITING_STATES.has(bullState)) return 'queued';
  if (bullState === 'active') return 'running';
  if (bullState === 'completed') return 'done';
  return failedReason === CANCELED_REASON ? 'canceled' : 'failed';
}

function failureMessage(reason: string | undefined): string {
  if (reason === 'job stalled more than allowable limit') {
    return 'the workers that took this job stopped while running it, again and again; it was given up';
  }
  return reason ?? 'the job failed';
}
