import { Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { teamKeys } from './teamKeys.js';

/**
 * The order in which workers take the team's jobs, read and kept from BullMQ's own keys (BullMQ 6):
 * - `wait`, a list: jobs without a priority. Ours all have one, so it holds only jobs that a stalled worker left
 *   (pushed on its right end); workers take from the right end, before any prioritized job.
 * - `prioritized`, a sorted set scored priority × 2³² + a counter: lower first, the same priority in order of arrival.
 * - (`paused`, the list of BullMQ before 5, is no longer used: a paused queue keeps its jobs where they are; ours never
 *   pauses.)
 *
 * Fairness without BullMQ Pro's groups: a waiting job's priority number is 1 + the jobs its user has ahead of it
 * (running, and waiting before it), kept so as their jobs start and end (rerankWaitingJobs). The queue so takes
 * everyone's next job in turn, a user with fewer jobs running first: a batch cannot keep another user's single job
 * waiting behind all of it, nor a later batch jump the rest of an earlier one. (A worker takes its next job as it
 * finishes one, just before the re-ranking that follows: the turns lag by that one job at most.)
 */

/** BullMQ's highest priority number (the lowest priority). */
const MAX_PRIORITY = 2 ** 21;
const PRIORITY_SCALE = 2 ** 32;

/** 1 = next to run, among everyone's waiting jobs; null when the job does not wait. By rank, without listing any. */
export async function positionOf(redis: Redis, queue: Queue, id: string): Promise<number | null> {
  const answers = await redis
    .multi()
    .llen(queue.keys.wait!)
    .lpos(queue.keys.wait!, id)
    .zrank(queue.keys.prioritized!, id)
    .exec();
  const [restartedCount, indexFromLeft, rank] = (answers ?? []).map(([error, value]) => {
    if (error) throw error;
    return value as number | null;
  });
  if (indexFromLeft !== null && indexFromLeft !== undefined) return restartedCount! - indexFromLeft;
  return rank === null || rank === undefined ? null : restartedCount! + rank + 1;
}

/** Where each of a user's unfinished jobs is, in the order they were queued. */
interface UserJobPlaces {
  /** Waiting jobs, in order; priority is null for a job in the wait list (one a stalled worker left). */
  readonly waiting: ReadonlyArray<{ readonly id: string; readonly priority: number | null }>;
  readonly running: readonly string[];
}

/** The user's waiting and running jobs; forgets from their set those that have finished or are gone. */
export async function userJobPlaces(redis: Redis, queue: Queue, userId: string): Promise<UserJobPlaces> {
  const ids = await redis.zrange(teamKeys.userJobs(userId), '0', '-1');
  if (ids.length === 0) return { waiting: [], running: [] };
  const lookups = redis.multi();
  for (const id of ids) lookups.zscore(queue.keys.prioritized!, id).lpos(queue.keys.wait!, id).lpos(queue.keys.active!, id);
  const answers = (await lookups.exec()) ?? [];
  const waiting: Array<{ id: string; priority: number | null }> = [];
  const running: string[] = [];
  const finished: string[] = [];
  for (const [index, id] of ids.entries()) {
    const [score, inWait, inActive] = answers.slice(index * 3, index * 3 + 3).map(([error, value]) => {
      if (error) throw error;
      return value as string | number | null;
    });
    if (score !== null && score !== undefined) waiting.push({ id, priority: Math.floor(Number(score) / PRIORITY_SCALE) });
    else if (inWait !== null && inWait !== undefined) waiting.push({ id, priority: null });
    else if (inActive !== null && inActive !== undefined) running.push(id);
    else finished.push(id);
  }
  if (finished.length > 0) await redis.zrem(teamKeys.userJobs(userId), ...finished);
  return { waiting, running };
}

/** The priority number of a job whose user has `ahead` jobs running or waiting before it. */
export function fairPriority(ahead: number): number {
  return Math.min(MAX_PRIORITY, ahead + 1);
}

/**
 * Gives each of the user's waiting jobs the priority fairPriority(their running jobs + its index among the waiting).
 * Called when one of their jobs starts or ends, and after they queue more. A job whose priority changes goes behind
 * the jobs that already have its new number: everyone else's job of that rank comes first, as it should.
 */
export async function rerankWaitingJobs(redis: Redis, queue: Queue, userId: string): Promise<void> {
  const { waiting, running } = await userJobPlaces(redis, queue, userId);
  for (const [index, { id, priority }] of waiting.entries()) {
    const fair = fairPriority(running.length + index);
    // A stalled worker's job in the wait list runs first as it is: changing its priority would send it back.
    if (priority === null || priority === fair) continue;
    const job = await Job.fromId(queue, id);
    // It may have started or gone meanwhile: changing the priority of a job that no longer waits does no harm.
    await job?.changePriority({ priority: fair }).catch(() => {});
  }
}
