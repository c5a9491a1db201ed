import type { Redis } from 'ioredis';
import type { EngineReport, EngineStatusSource } from '../server/engineReport.js';
import { teamKeys } from './teamKeys.js';

/** A worker's heartbeat: its engine's report, whether it runs a job, and the host it is on. */
export interface WorkerReport {
  readonly name: string;
  readonly engine: EngineReport;
  readonly busy: boolean;
}

/** How often a worker says it is alive, and how long the gateway believes it without hearing again. */
export const HEARTBEAT_MS = 2_000;
const HEARTBEAT_VALID_MS = 5 * HEARTBEAT_MS;

/** A worker's side: says every HEARTBEAT_MS what its engine is doing; says goodbye when it stops. */
export async function publishWorker(redis: Redis, report: WorkerReport): Promise<void> {
  await redis
    .multi()
    .zadd(teamKeys.workers, Date.now() + HEARTBEAT_VALID_MS, report.name)
    .hset(teamKeys.workerReports, report.name, JSON.stringify(report))
    .exec();
}

export async function unpublishWorker(redis: Redis, name: string): Promise<void> {
  await redis.multi().zrem(teamKeys.workers, name).hdel(teamKeys.workerReports, name).exec();
}

/**
 * The gateway's side: what health says of the engines, all workers together. Ready while any worker is ready (the
 * queue holds the jobs until one is); starting while none is, with a starting worker's weights.
 */
export class WorkerRegistry implements EngineStatusSource {
  constructor(private readonly redis: Redis) {}

  async workers(): Promise<WorkerReport[]> {
    const now = String(Date.now());
    // A worker that died without saying goodbye (kill -9, a crash) is forgotten once its heartbeat expires.
    const gone = await this.redis.zrangebyscore(teamKeys.workers, '-inf', now);
    if (gone.length > 0) await this.redis.multi().zrem(teamKeys.workers, ...gone).hdel(teamKeys.workerReports, ...gone).exec();
    const names = await this.redis.zrangebyscore(teamKeys.workers, now, '+inf');
    if (names.length === 0) return [];
    const reports = await this.redis.hmget(teamKeys.workerReports, ...names);
    return reports.flatMap((report) => (report ? [JSON.parse(report) as WorkerReport] : []));
  }

  async report(): Promise<EngineReport> {
    const workers = await this.workers();
    const ready = workers.filter((worker) => worker.engine.status === 'ready');
    const count = ready.length;
    if (count > 0) {
      return {
        status: 'ready',
        message: null,
        backend: distinct(ready.map((worker) => worker.engine.backend)),
        device: ready.map((worker) => `${worker.name}: ${worker.engine.device ?? '?'}`).join('; '),
        weights: { status: 'ready', progress: null, path: null },
        memory: null,
        workers: count,
      };
    }
    // Never an error: the queue keeps the jobs until a worker is ready, and a worker whose engine fails stops.
    const starting = workers.find((worker) => worker.engine.status === 'starting');
    return {
      status: 'starting',
      message: starting
        ? `${workers.length === 1 ? 'the worker is' : `${workers.length} workers are`} starting; jobs wait in the queue until one is ready`
        : 'no worker is connected: start `gramstyle worker --redis URL` on a GPU host; jobs wait in the queue until then',
      backend: null,
      device: null,
      weights: starting ? starting.engine.weights : { status: 'locating', progress: null, path: null },
      memory: null,
      workers: 0,
    };
  }
}

function distinct(values: ReadonlyArray<string | null>): string | null {
  const unique = [...new Set(values.filter((value): value is string => value !== null))];
  return unique.length > 0 ? unique.join(', ') : null;
}
