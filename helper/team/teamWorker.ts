import { hostname } from 'node:os';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { BackendChoice } from '../engine/index.js';
import { EngineHost } from '../jobs/engineHost.js';
import { encodeResult, resultSize } from '../jobs/jobResult.js';
import { engineHostReport } from '../server/engineReport.js';
import { clearEarlierAttempt, previewWriter, progressWriter } from './attemptWriters.js';
import { RedisBlobStore } from './blobStore.js';
import { rerankWaitingJobs } from './queueOrder.js';
import { connectRedis } from './redisConnection.js';
import { CANCEL_CHANNEL, jobBlobs, QUEUE_NAME, QUEUE_PREFIX, teamKeys } from './teamKeys.js';
import { CANCELED_REASON } from './teamJobQueue.js';
import { inputBlobNames, loadJobInput, resultBlob, teamJobDataSchema, type TeamJobData } from './teamJob.js';
import { HEARTBEAT_MS, publishWorker, unpublishWorker } from './workerRegistry.js';

export interface TeamWorkerOptions {
  readonly redisUrl: string;
  readonly backend: BackendChoice;
  readonly weights: string | undefined;
  /**
   * How long BullMQ's lock on a running job lasts without renewal (renewed every half of it while the worker lives).
   * A worker that dies loses its job after this; another worker's stalled-job check then puts it back in the queue.
   */
  readonly lockMs: number;
  /** The most often a job's progress is written to Redis. */
  readonly progressIntervalMs: number;
  /** Shown in logs and the gateway's health; host name and process id unless given. */
  readonly name?: string;
  readonly log: (line: string) => void;
}

export interface RunningTeamWorker {
  readonly name: string;
  /** Takes no new job; waits for the running one to finish, then lets go of Redis and the engine. */
  close(): Promise<void>;
}

/** How often a job may be put back after its worker died before it is given up (it may be what kills them). */
const MAX_RESTARTS = 2;

/** The job this worker runs, and what it knows of it. */
interface RunningJob {
  readonly id: string;
  cancelAsked: boolean;
}

/**
 * `gramstyle worker`: one BullMQ worker (concurrency 1) around the engine host. The engine runs in its own thread,
 * so this process's event loop stays free and BullMQ's lock on the job keeps renewing however long an iteration
 * takes. It writes the job's progress record at most once per progressIntervalMs, the previews and the result to the
 * blob store, and stops the job it runs when the gateway publishes its id on the cancel channel, or when it finds the
 * job's cancel mark as it writes the progress (should that message be lost).
 */
export async function startTeamWorker(options: TeamWorkerOptions): Promise<RunningTeamWorker> {
  const { log } = options;
  const name = options.name ?? `${hostname()}-${process.pid}`;
  const redis = await connectRedis(options.redisUrl, { failFast: false });
  const store = new RedisBlobStore(redis);
  const engine = new EngineHost({
    backend: options.backend,
    weightsFlag: options.weights,
    styleCacheEntries: 8,
    previewIntervalMs: 1000,
    previewMaxSide: 256,
  });
  let current: RunningJob | undefined;
  const heartbeat = (): Promise<void> =>
    publishWorker(redis, { name, engine: engineHostReport(engine), busy: current !== undefined }).catch((error: unknown) =>
      log(`heartbeat failed: ${String(error)}`),
    );
  await heartbeat();
  const heartbeatTimer = setInterval(() => void heartbeat(), HEARTBEAT_MS);
  const stopEarly = async (): Promise<void> => {
    clearInterval(heartbeatTimer);
    await unpublishWorker(redis, name).catch(() => {});
    redis.disconnect();
    await engine.close();
  };
  try {
    await engine.ready();
  } catch (error) {
    await stopEarly();
    throw new Error(`the engine could not start: ${error instanceof Error ? error.message : String(error)}`);
  }
  log(`worker ${name}: engine ready (${engine.status.backend} on ${engine.status.device})`);
  await heartbeat();

  // For fairness between users: their waiting jobs are re-ranked as one of theirs starts or ends.
  const queue = new Queue(QUEUE_NAME, { connection: redis, prefix: QUEUE_PREFIX });
  queue.on('error', (error) => log(`queue error: ${error.message}`));
  const rerank = (data: TeamJobData): Promise<void> =>
    rerankWaitingJobs(redis, queue, data.ownerId).catch((error: unknown) => log(`could not re-rank ${data.ownerName}'s jobs: ${String(error)}`));
  const cancelMarked = async (id: string): Promise<boolean> => (await redis.hget(teamKeys.jobRecord(id), 'canceled')) === '1';

  const subscriber = redis.duplicate();
  await subscriber.subscribe(CANCEL_CHANNEL);
  subscriber.on('message', (_channel: string, jobId: string) => {
    if (current?.id !== jobId || current.cancelAsked) return;
    current.cancelAsked = true;
    log(`job ${jobId}: cancel asked`);
    engine.cancel(jobId);
  });

  const run = async (job: Job<TeamJobData>): Promise<{ width: number; height: number }> => {
    const id = job.id!;
    const running: RunningJob = { id, cancelAsked: false };
    current = running;
    void heartbeat();
    try {
      return await runJob(job, running);
    } finally {
      current = undefined;
      void heartbeat();
    }
  };

  const runJob = async (job: Job<TeamJobData>, running: RunningJob): Promise<{ width: number; height: number }> => {
    const id = running.id;
    const data = teamJobDataSchema.parse(job.data);
    const attempt = job.attemptsStarted;
    // A restarted job starts from nothing: the dead attempt's preview and progress are not this one's.
    await clearEarlierAttempt(job, attempt, store);
    await rerank(data);
    // The mark comes before the publish: a cancel sent before this worker listened for the job is read here.
    if (await cancelMarked(id)) running.cancelAsked = true;
    if (running.cancelAsked) throw new UnrecoverableError(CANCELED_REASON);
    const restarted = job.stalledCounter > 0 ? ` (restarted: its worker stopped ${job.stalledCounter}×)` : '';
    const styles = data.styles.map(({ weight }) => weight).join(':');
    log(`took job ${id} of ${data.ownerName}${restarted}: ${data.kind}, ${data.styles.length} style image${data.styles.length > 1 ? `s weighted ${styles}` : ''}`);
    const input = await loadJobInput(store, data);
    if (!input) throw new UnrecoverableError('the job’s images expired before a worker was free');

    // With each progress write, at most once per interval: the cancel mark, in case the message was lost.
    const readCancelMark = async (): Promise<void> => {
      if (running.cancelAsked || !(await cancelMarked(id))) return;
      running.cancelAsked = true;
      log(`job ${id}: cancel mark found`);
      engine.cancel(id);
    };
    const progress = progressWriter(job, attempt, { intervalMs: options.progressIntervalMs, afterWrite: readCancelMark, log });
    const previews = previewWriter(store, id, attempt, data.keepFinishedMs, log);
    const runs = engine.run({ jobId: id, ...input }, {
      onProgress: (update) => {
        progress.record(update.progress);
        previews.record(update);
      },
    });
    // A cancel that came while the images loaded: the engine takes it now that it runs the job.
    if (running.cancelAsked) engine.cancel(id);
    const outcome = await runs;
    await Promise.all([progress.flush(), previews.flush()]);
    if (outcome.kind === 'done' && (running.cancelAsked || (await cancelMarked(id)))) {
      // Canceled as it finished: the user asked for no result, and gets none.
      log(`job ${id} canceled as it finished: its result is dropped`);
      throw new UnrecoverableError(CANCELED_REASON);
    }
    if (outcome.kind === 'canceled') {
      const at = outcome.at;
      log(`job ${id} canceled${at ? `: asked after iteration ${at.askedAfter}, stopped after iteration ${at.stoppedAfter}` : ''}`);
      throw new UnrecoverableError(CANCELED_REASON);
    }
    if (outcome.kind === 'failed') {
      log(`job ${id} failed: ${outcome.message}`);
      throw new UnrecoverableError(outcome.message);
    }
    const result = await encodeResult(outcome.result);
    await store.put(jobBlobs.result(id), resultBlob(result), data.keepFinishedMs);
    const { width, height } = resultSize(result);
    const what = result.kind === 'stylize' ? '' : `a strength row of ${result.previews.length}, each `;
    log(`job ${id} done (${what}${width}×${height})`);
    return { width, height };
  };

  /**
   * A job that ended here, whichever way (done, failed, canceled, given up after too many restarts), needs its input
   * images no more, and is no longer one of its user's unfinished jobs. Only once BullMQ has moved it: a worker that
   * lost the job (its lock) must not take the images from the attempt that runs it now.
   */
  const jobEnded = async (job: Job<TeamJobData> | undefined): Promise<void> => {
    const data = teamJobDataSchema.safeParse(job?.data);
    if (!job || !data.success) return;
    await store.delete(inputBlobNames(data.data));
    await redis.zrem(teamKeys.userJobs(data.data.ownerId), job.id!);
    await rerank(data.data);
  };

  const worker = new Worker<TeamJobData>(QUEUE_NAME, run, {
    connection: redis,
    prefix: QUEUE_PREFIX,
    concurrency: 1,
    lockDuration: options.lockMs,
    stalledInterval: options.lockMs,
    maxStalledCount: MAX_RESTARTS,
    autorun: false,
  });
  worker.on('error', (error) => log(`worker error: ${error.message}`));
  worker.on('stalled', (jobId) => log(`job ${jobId} stalled: its worker stopped; it goes back to the queue`));
  for (const event of ['completed', 'failed'] as const) {
    worker.on(event, (job: Job<TeamJobData> | undefined) => {
      jobEnded(job).catch((error: unknown) => log(`job ${job?.id}: its inputs were not deleted: ${String(error)}`));
    });
  }
  void worker.run();
  log(`worker ${name} taking jobs from ${QUEUE_PREFIX}:${QUEUE_NAME}`);

  return {
    name,
    async close() {
      await worker.close();
      await queue.close();
      clearInterval(heartbeatTimer);
      await subscriber.quit().catch(() => {});
      await unpublishWorker(redis, name).catch(() => {});
      await redis.quit().catch(() => {});
      await engine.close();
    },
  };
}
