import type { EngineMemory, Health } from '../../shared/protocol.js';
import type { EngineHost } from '../jobs/engineHost.js';
import type { WeightsState } from '../jobs/workerMessages.js';

/** What health says of the engine that runs the jobs: the helper's own, or a gateway's workers together. */
export interface EngineReport {
  readonly status: Health['status'];
  /** Why it is not ready, when it says. */
  readonly message: string | null;
  readonly backend: string | null;
  readonly device: string | null;
  readonly weights: WeightsState;
  readonly memory: EngineMemory | null;
  /** Workers taking jobs: a gateway's count, null for the helper's own engine. */
  readonly workers: number | null;
}

export interface EngineStatusSource {
  report(): Promise<EngineReport>;
}

/** The report of one engine host: the helper's, or a worker's (which a gateway then reads from Redis). */
export function engineHostReport(engine: EngineHost): EngineReport {
  return { ...engine.status, weights: engine.weights, memory: engine.memory, workers: null };
}
