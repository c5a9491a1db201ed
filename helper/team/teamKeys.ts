import { KEY_PREFIX } from './redisConnection.js';

/**
 * The Redis keys of team mode, in one place. BullMQ keeps its queue under QUEUE_PREFIX; around it, Gramstyle keeps
 * the users, one small record per job, each user's unfinished jobs, the workers' heartbeats, and the blobs (images
 * in, previews and results out) that jobs name by key instead of carrying.
 */
export const QUEUE_NAME = 'stylize';
export const QUEUE_PREFIX = `${KEY_PREFIX}:bullmq`;

/** Workers listen here for the id of a running job to cancel; whichever runs it stops it. */
export const CANCEL_CHANNEL = `${KEY_PREFIX}:cancel`;

export const teamKeys = {
  /** Hash: user name → JSON {id, tokenHash, createdAt}; the id is new each time the name is added. */
  users: `${KEY_PREFIX}:users`,
  /** Hash: SHA-256 of a token (hex) → JSON {id, name} of its user: one lookup tells a request whom it acts for. */
  tokens: `${KEY_PREFIX}:user-tokens`,
  /**
   * Hash: ownerId, kind, canceled (the cancel mark, read by the worker with each progress write), total; outlives the
   * BullMQ job of a canceled waiting job, which is removed.
   */
  jobRecord: (jobId: string) => `${KEY_PREFIX}:job:${jobId}`,
  /**
   * Sorted set of a user's job ids not yet known to be finished, by when they were queued (jobSequence): their
   * waiting jobs are counted and ranked from it. Keyed by the user's id, not name: a name revoked and added again is
   * someone else. Expires with the user's last job.
   */
  userJobs: (userId: string) => `${KEY_PREFIX}:user-jobs:${userId}`,
  /** Counter: the order in which jobs were queued, across gateways. */
  jobSequence: `${KEY_PREFIX}:job-sequence`,
  /** Sorted set: worker name → when its heartbeat expires (ms). */
  workers: `${KEY_PREFIX}:workers`,
  /** Hash: worker name → JSON of its engine report. */
  workerReports: `${KEY_PREFIX}:worker-reports`,
} as const;

/** Blob names (see BlobStore) of a job's images. */
export const jobBlobs = {
  content: (jobId: string) => `input:${jobId}:content`,
  /** The job's style images, by their index. */
  style: (jobId: string, index: number) => `input:${jobId}:style:${index}`,
  preview: (jobId: string) => `preview:${jobId}`,
  result: (jobId: string) => `result:${jobId}`,
};
