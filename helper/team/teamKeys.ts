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
  /** Hash: user name → JSON {tokenHash, createdAt}. */
  users: `${KEY_PREFIX}:users`,
  /** Hash: SHA-256 of a token (hex) → user name. */
  tokens: `${KEY_PREFIX}:user-tokens`,
  /** Hash: owner, kind, canceled, total; outlives the BullMQ job of a canceled waiting job, which is removed. */
  jobRecord: (jobId: string) => `${KEY_PREFIX}:job:${jobId}`,
  /** Set of a user's job ids not yet known to be finished: their waiting jobs are counted from it. */
  userJobs: (user: string) => `${KEY_PREFIX}:user-jobs:${user}`,
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
