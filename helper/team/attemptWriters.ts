import type { Job } from 'bullmq';
import type { StylizeProgress } from '../../shared/stylizeProgress.js';
import { encodePng } from '../imageio/index.js';
import type { EngineProgress } from '../jobs/workerMessages.js';
import type { BlobStore } from './blobStore.js';
import { jobBlobs } from './teamKeys.js';
import type { AttemptProgress } from './teamJob.js';

/**
 * What a worker writes of the attempt it runs: the progress record and the previews, each tagged with the attempt
 * (BullMQ's attemptsStarted), so that the gateway shows nothing written by an attempt that lost the job.
 */

/**
 * Writes the job's progress record as the engine made it, at most once per interval; flush() writes the last one.
 * After each write it calls afterWrite (the worker reads the cancel mark there: at most as often as it writes).
 */
export function progressWriter(
  job: Job,
  attempt: number,
  { intervalMs, afterWrite, log }: { intervalMs: number; afterWrite: () => Promise<void>; log: (line: string) => void },
) {
  let latest: StylizeProgress | null = null;
  let writtenAt = Number.NEGATIVE_INFINITY;
  let writing: Promise<void> = Promise.resolve();
  const write = (): void => {
    const progress = latest;
    latest = null;
    if (!progress) return;
    writtenAt = performance.now();
    const record: AttemptProgress = { attempt, progress };
    writing = writing
      .then(() => job.updateProgress(record))
      .then(afterWrite)
      .catch((error: unknown) => log(`progress of job ${job.id} not written: ${String(error)}`));
  };
  return {
    record(progress: StylizeProgress): void {
      latest = progress;
      if (performance.now() - writtenAt >= intervalMs) write();
    },
    async flush(): Promise<void> {
      write();
      await writing;
    },
  };
}

/** Writes each preview the engine sends (it sends one a second at most) as a PNG blob, in order. */
export function previewWriter(store: BlobStore, jobId: string, attempt: number, keepMs: number, log: (line: string) => void) {
  let writing: Promise<void> = Promise.resolve();
  return {
    record({ progress, preview }: EngineProgress): void {
      if (!preview) return;
      const meta = { iteration: progress.iteration, width: preview.width, height: preview.height, attempt };
      writing = writing
        .then(async () => store.put(jobBlobs.preview(jobId), { bytes: await encodePng(preview), meta }, keepMs))
        .catch((error: unknown) => log(`preview of job ${jobId} not written: ${String(error)}`));
    },
    flush: () => writing,
  };
}

/** Before an attempt runs: no preview and no progress left by an earlier one (a worker that died running the job). */
export async function clearEarlierAttempt(job: Job, attempt: number, store: BlobStore): Promise<void> {
  const fresh: AttemptProgress = { attempt, progress: null };
  await Promise.all([store.delete([jobBlobs.preview(job.id!)]), job.updateProgress(fresh)]);
}
