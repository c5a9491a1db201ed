import { randomUUID } from 'node:crypto';
import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { jobKindSchema, type JobKind, type JobState, type JobStatus } from '../../shared/protocol.js';
import { notStartedProgress } from '../../shared/stylizeProgress.js';
import { jobIterations, QueueFullError, type JobInput, type JobOwner, type JobQueue, type QueueLoad, type QueuePlaces } from '../jobs/jobQueue.js';
import type { JobResult } from '../jobs/jobResult.js';
import type { BlobStore } from './blobStore.js';
import { fairPriority, positionOf, rerankWaitingJobs, userJobPlaces } from './queueOrder.js';
import { CANCEL_CHANNEL, jobBlobs, QUEUE_NAME, QUEUE_PREFIX, teamKeys } from './teamKeys.js';
import {
  attemptProgressSchema,
  inputBlobNames,
  resultFromBlob,
  storeJobInput,
  teamJobDataSchema,
  type TeamJobData,
} from './teamJob.js';

export interface TeamJobQueueOptions {
  /** Jobs one user may have waiting (not yet running); more are refused (429). */
  readonly maxWaitingPerUser: number;
  /** How long a job may wait for a worker before its images expire. */
  readonly maxWaitMs: number;
  /** How long finished jobs, their previews and results are kept. */
  readonly keepFinishedMs: number;
  readonly log: (line: string) => void;
}

/** BullMQ's states of a job that has not started. */
const WAITING_STATES = new Set(['waiting', 'prioritized', 'delayed', 'waiting-children']);

/** The message of a failed job that was canceled (the worker ends a canceled job by failing it with this). */
export const CANCELED_REASON = 'canceled';

interface JobRecord {
  readonly ownerId: string;
  readonly kind: JobKind;
  readonly canceled: boolean;
  readonly total: number;
}

/**
 * The gateway's queue: jobs in BullMQ on Redis, run by `gramstyle worker` processes on any number of hosts
 * (team/teamWorker.ts). The job carries its owner, options and the names of its images, which live in the blob store.
 * Jobs belong to the owner's stable id, which the token's lookup gave the request (UserDirectory.userFor). The order of
 * the waiting jobs (fair between users) is team/queueOrder.ts's.
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

  async reserve(owner: JobOwner, count: number): Promise<QueuePlaces> {
    const waiting = (await userJobPlaces(this.redis, this.queue, owner.id)).waiting.length;
    const held = this.reserved.get(owner.id) ?? 0;
    const quota = this.options.maxWaitingPerUser;
    if (waiting + held + count > quota) {
      const asked = count > 1 ? `${count} more jobs do not fit` : 'no more fit';
      throw new QueueFullError(
        `you have ${waiting + held} job${waiting + held === 1 ? '' : 's'} waiting and may have at most ${quota}: ${asked}; ` +
          'try again once some have started',
      );
    }
    this.reserved.set(owner.id, held + count);
    let holding = true;
    const release = (): void => {
      if (!holding) return;
      holding = false;
      const left = (this.reserved.get(owner.id) ?? count) - count;
      if (left > 0) this.reserved.set(owner.id, left);
      else this.reserved.delete(owner.id);
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

  private async add(owner: JobOwner, inputs: readonly JobInput[]): Promise<string[]> {
    const { maxWaitMs, keepFinishedMs } = this.options;
    const ids = inputs.map(() => randomUUID());
    const data = await Promise.all(
      inputs.map((input, index) => storeJobInput(this.store, ids[index]!, owner, input, { ttlMs: maxWaitMs, keepFinishedMs })),
    );
    const places = await userJobPlaces(this.redis, this.queue, owner.id);
    const ahead = places.running.length + places.waiting.length;
    const recordTtlMs = maxWaitMs + keepFinishedMs;
    const records = this.redis.multi();
    for (const [index, id] of ids.entries()) {
      const input = inputs[index]!;
      const record = { ownerId: owner.id, kind: input.kind, canceled: 0, total: jobIterations(input) };
      records.hset(teamKeys.jobRecord(id), record).pexpire(teamKeys.jobRecord(id), recordTtlMs);
    }
    await records.exec();
    await this.queue.addBulk(
      ids.map((id, index) => ({
        name: data[index]!.kind,
        data: data[index]!,
        opts: {
          jobId: id,
          priority: fairPriority(ahead + index),
          attempts: 1,
          removeOnComplete: { age: Math.ceil(keepFinishedMs / 1000) },
          removeOnFail: { age: Math.ceil(keepFinishedMs / 1000) },
        },
      })),
    );
    // Only once BullMQ knows them: the set forgets ids whose jobs it does not find.
    const last = await this.redis.incrby(teamKeys.jobSequence, ids.length);
    const ranked = ids.flatMap((id, index) => [last - ids.length + 1 + index, id]);
    await this.redis.multi().zadd(teamKeys.userJobs(owner.id), ...ranked).pexpire(teamKeys.userJobs(owner.id), recordTtlMs).exec();
    // Another gateway may have queued or a worker started some of theirs meanwhile.
    await rerankWaitingJobs(this.redis, this.queue, owner.id);
    this.options.log(`${ids.length > 1 ? `${ids.length} jobs` : 'job'} of ${owner.name} queued: ${ids.join(', ')}`);
    return ids;
  }

  async status(owner: JobOwner, id: string, previewAfter = -1): Promise<JobStatus | undefined> {
    const record = await this.recordOf(owner, id);
    if (!record) return undefined;
    const job = await Job.fromId<TeamJobData>(this.queue, id);
    if (!job) {
      // A canceled waiting job is removed from the queue; its record remembers it until it expires.
      return record.canceled ? this.statusOf(id, 'canceled', record, null, null) : undefined;
    }
    const bullState = await job.getState();
    const state = stateOf(bullState, record, job.failedReason);
    const queuePosition = state === 'queued' ? await positionOf(this.redis, this.queue, id) : null;
    const status = this.statusOf(id, state, record, job, queuePosition);
    const [preview, result] = await Promise.all([
      state === 'running' || state === 'done' ? this.previewNewerThan(id, job.attemptsStarted, previewAfter) : null,
      state === 'done' ? this.store.meta(jobBlobs.result(id)) : null,
    ]);
    return {
      ...status,
      preview,
      result: result ? { width: result.width!, height: result.height! } : null,
    };
  }

  private statusOf(id: string, state: JobState, record: JobRecord, job: Job<TeamJobData> | null, queuePosition: number | null): JobStatus {
    const failed = state === 'failed';
    return {
      id,
      kind: record.kind,
      status: state,
      queuePosition,
      progress: (state !== 'queued' && job && currentProgress(job)) || notStartedProgress(record.total),
      preview: null,
      result: null,
      error: failed ? { code: 'job-failed', message: failureMessage(job?.failedReason) } : null,
      restarts: job?.stalledCounter ?? 0,
    };
  }

  async result(owner: JobOwner, id: string): Promise<JobResult | null | undefined> {
    // Past any iteration: the state alone is wanted, not the preview's PNG.
    const status = await this.status(owner, id, Number.MAX_SAFE_INTEGER);
    if (!status) return undefined;
    // Only a job that is done has one: not one canceled as it finished (see stateOf), nor one whose stopped attempt
    // wrote a result before another attempt failed.
    if (status.status !== 'done') return null;
    const blob = await this.store.get(jobBlobs.result(id));
    return blob ? resultFromBlob(status.kind, blob) : null;
  }

  async cancel(owner: JobOwner, id: string): Promise<boolean> {
    const record = await this.recordOf(owner, id);
    if (!record) return false;
    const job = await Job.fromId<TeamJobData>(this.queue, id);
    // Gone from BullMQ: canceled while waiting (removed), or finished and since removed (then it is unknown, as status
    // says).
    if (!job) return record.canceled;
    const state = await job.getState();
    if (state === 'completed' || state === 'failed' || state === 'unknown') return true;
    // First the mark: a worker that takes the job from now on reads it and does not run it; the one running it reads
    // it with each progress write, should the message below be lost.
    await this.redis.hset(teamKeys.jobRecord(id), 'canceled', 1);
    if (WAITING_STATES.has(state)) {
      try {
        await job.remove();
        await this.forget(record.ownerId, id, job.data);
        await rerankWaitingJobs(this.redis, this.queue, record.ownerId);
        this.options.log(`job ${id} of ${owner.name} canceled while waiting`);
        return true;
      } catch {
        // A worker took it meanwhile (a running job is locked): it stops it as below.
      }
    }
    // Published again on each DELETE of a job that still runs: a worker that missed the first message hears this one.
    await this.redis.publish(CANCEL_CHANNEL, id);
    this.options.log(`job ${id} of ${owner.name} canceled while running: asked its worker to stop it`);
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

  /** The job's record if it is the user's (by their id: a name revoked and added again owns nothing). */
  private async recordOf(owner: JobOwner, id: string): Promise<JobRecord | undefined> {
    const record = await this.redis.hgetall(teamKeys.jobRecord(id));
    if (record.ownerId !== owner.id) return undefined;
    return { ownerId: owner.id, kind: jobKindSchema.parse(record.kind), canceled: record.canceled === '1', total: Number(record.total) };
  }

  /** The preview of the job's current attempt, if newer than previewAfter; none a worker that lost the job wrote. */
  private async previewNewerThan(id: string, attempt: number, previewAfter: number): Promise<JobStatus['preview']> {
    const meta = await this.store.meta(jobBlobs.preview(id));
    if (!meta || meta.attempt !== attempt || meta.iteration! <= previewAfter) return null;
    const blob = await this.store.get(jobBlobs.preview(id));
    if (!blob || blob.meta.attempt !== attempt) return null;
    const { iteration, width, height } = blob.meta;
    return { iteration: iteration!, width: width!, height: height!, png: blob.bytes.toString('base64') };
  }

  private async forget(ownerId: string, id: string, data: TeamJobData): Promise<void> {
    await this.redis.pexpire(teamKeys.jobRecord(id), this.options.keepFinishedMs);
    await this.redis.zrem(teamKeys.userJobs(ownerId), id);
    await this.store.delete(inputBlobNames(teamJobDataSchema.parse(data)));
  }
}

/** The progress the job's current attempt wrote; null before it wrote any (a worker that lost the job is not heard). */
function currentProgress(job: Job<TeamJobData>): JobStatus['progress'] | null {
  const written = attemptProgressSchema.safeParse(job.progress);
  return written.success && written.data.attempt === job.attemptsStarted ? written.data.progress : null;
}

function stateOf(bullState: string, record: JobRecord, failedReason: string | undefined): JobState {
  // Shown as canceled at once, as the helper does; the worker stops within one iteration. A job that finished as it
  // was canceled stays canceled: the user asked for it, and the worker keeps no result once it sees the mark.
  if (record.canceled) return 'canceled';
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
