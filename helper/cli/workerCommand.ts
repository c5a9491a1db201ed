import { isBackendChoice, type BackendChoice } from '../engine/index.js';
import { startTeamWorker } from '../team/teamWorker.js';
import { parseWholeNumber, unknownBackendProblem } from './jobArgs.js';
import { untilStopped } from './serveCommand.js';
import { parseCommandArgs, REDIS_FLAG, redisUrlFrom } from './teamArgs.js';
import { UsageError } from './usageError.js';

const WORKER_FLAGS = {
  ...REDIS_FLAG,
  backend: { type: 'string' },
  weights: { type: 'string' },
  name: { type: 'string' },
  'lock-seconds': { type: 'string' },
} as const;

/** BullMQ's default: long enough that a worker whose host is briefly busy keeps its job. */
const DEFAULT_LOCK_SECONDS = 30;

/**
 * gramstyle worker --redis URL [--backend B] [--weights FILE] [--name NAME] [--lock-seconds N]: runs a gateway's jobs
 * on this host, one at a time. SIGTERM or Ctrl-C: takes no new job and stops once the running one is done; a second
 * one stops at once (the job then goes back to the queue when its lock expires, and another worker runs it).
 */
export async function workerCommand(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const { values } = parseCommandArgs(argv, WORKER_FLAGS, false);
  const problems: string[] = [];
  const redisUrl = redisUrlFrom(values, problems);
  const backend = values.backend ?? 'auto';
  if (!isBackendChoice(backend)) problems.push(unknownBackendProblem(backend));
  const lockSeconds = values['lock-seconds'] === undefined ? DEFAULT_LOCK_SECONDS : parseWholeNumber(values['lock-seconds'], 1);
  if (lockSeconds === undefined) problems.push(`--lock-seconds: expected a whole number from 1, got "${values['lock-seconds']}"`);
  if (problems.length > 0) throw new UsageError(problems);

  const log = (line: string): void => console.log(`${new Date().toISOString()} ${line}`);
  const worker = await startTeamWorker({
    redisUrl,
    backend: backend as BackendChoice,
    weights: values.weights,
    lockMs: lockSeconds! * 1000,
    progressIntervalMs: 1000,
    name: values.name,
    log,
  });
  const reason = await untilStopped(signal);
  log(`${reason}: finishing the running job, taking no new one (${reason} again stops at once)`);
  process.once('SIGTERM', () => process.exit(143));
  await worker.close();
  log('stopped');
  return 0;
}
