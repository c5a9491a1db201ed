import { healthSchema, jobStatusSchema, type Health, type JobStatus } from '../../shared/protocol.js';
import type { AppContext } from './app.js';
import type { User } from './authentication.js';

/**
 * The answers to the two requests an open panel repeats: health and a job's status. Built here once for both ways a
 * request reaches them: express's routes (app.ts) and the shortcut for well-formed polls (pollShortcut.ts).
 */

/** Health: what the plugin needs before pairing for anyone; paths, errors and engine details only for a user. */
export async function healthAnswer(context: AppContext, user: User | null): Promise<Health> {
  const engine = await context.engine.report();
  const health: Health = {
    name: 'gramstyle',
    version: context.version,
    apiVersion: 1,
    role: context.role,
    instanceId: context.instanceId,
    status: engine.status,
    weights: { status: engine.weights.status, progress: engine.weights.progress },
    details:
      user === null
        ? null
        : {
            message: engine.message,
            backend: engine.backend,
            device: engine.device,
            weightsPath: engine.weights.path,
            ...(await context.queue.load()),
            engineMemory: engine.memory,
            user: context.role === 'gateway' ? user.name : null,
            workers: engine.workers,
          },
  };
  return healthSchema.parse(health);
}

/** A job of the user's, with its preview only when newer than `previewAfter`; undefined when they have no such job. */
export async function jobStatusAnswer(
  context: AppContext,
  user: User,
  id: string,
  previewAfter: number | undefined,
): Promise<JobStatus | undefined> {
  const status = await context.queue.status(user, id, previewAfter);
  return status && jobStatusSchema.parse(status);
}
