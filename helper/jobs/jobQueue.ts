import type { JobStatus } from '../../shared/protocol.js';
import type { JobResult } from './jobResult.js';
import type { EngineJobInput } from './workerMessages.js';

/**
 * A job's owner: `id` is what their jobs belong to (stable while the user exists; a name revoked and added again gets
 * a new one), `name` what health and logs show.
 */
export interface JobOwner {
  readonly id: string;
  readonly name: string;
}

/**
 * The job queue as the HTTP app sees it. Two implementations: the helper's in-process queue (localJobQueue.ts: one
 * engine, one user) and the gateway's BullMQ queue (team/teamJobQueue.ts: workers on many hosts, many users).
 *
 * Every job belongs to the user who submitted it (`owner`, whom its token belongs to): a user sees, fetches and
 * cancels only their own jobs, and another's id answers as if it did not exist.
 */
export interface JobQueue {
  /**
   * Holds places for `count` jobs of `owner` before their images are decoded: a full queue or a user over quota is
   * refused (QueueFullError) before that work, and concurrent requests cannot all decode for the last places.
   */
  reserve(owner: JobOwner, count: number): Promise<QueuePlaces>;
  /** The job's state; with previewAfter, the preview only if it is newer than that iteration. */
  status(owner: JobOwner, id: string, previewAfter?: number): Promise<JobStatus | undefined>;
  /** The finished job's result, or null while it has none; undefined for an unknown job. */
  result(owner: JobOwner, id: string): Promise<JobResult | null | undefined>;
  /** Cancels a queued or running job; finished jobs stay as they are. Returns false for an unknown job. */
  cancel(owner: JobOwner, id: string): Promise<boolean>;
  /** Everyone's jobs: how many wait, and whether any runs (for health, shown to token holders only). */
  load(): Promise<QueueLoad>;
  /** Stops taking jobs; what this queue runs itself is canceled. */
  shutdown(): Promise<void>;
}

/** A job as the queue takes it: its kind, the prepared images (each style with its weight and key) and the options. */
export type JobInput = EngineJobInput;

/** The iterations a job runs: a strength row's progress counts those of all its previews. */
export function jobIterations(input: JobInput): number {
  return input.options.iterations * (input.kind === 'strength-row' ? input.strengths.length : 1);
}

export interface QueueLoad {
  readonly queueLength: number;
  readonly busy: boolean;
}

/** Places held in the queue while a request's images are decoded (see JobQueue.reserve). */
export interface QueuePlaces {
  /** Queues the jobs in these places, as many as were reserved, in order; returns their ids in the same order. */
  submit(inputs: readonly JobInput[]): Promise<string[]>;
  /** Gives the places back unused; does nothing once the jobs are submitted. */
  release(): void;
}

/** The queue is full, or the user has as many jobs waiting as they may (429). */
export class QueueFullError extends Error {}
