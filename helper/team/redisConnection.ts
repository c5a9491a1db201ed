import { Redis } from 'ioredis';

/** Every key Gramstyle keeps in Redis starts with this (team/teamKeys.ts names them all). */
export const KEY_PREFIX = 'gramstyle';

/** Checks a --redis URL: redis:// or rediss:// (TLS), with a host. Returns a problem, or null. */
export function redisUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `--redis: expected a URL such as redis://127.0.0.1:6379, got "${url}"`;
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    return `--redis: expected a redis:// or rediss:// URL, got "${url}"`;
  }
  return parsed.hostname ? null : `--redis: the URL names no host: "${url}"`;
}

/** The URL without its password, for messages and logs. */
export function redisUrlForDisplay(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString().replace(/\/$/, '');
}

/**
 * A connected client, or a rejection saying that Redis cannot be reached at `url`.
 *
 * `failFast` clients (the gateway's, the CLI's) refuse commands while Redis is away instead of queueing them, so that
 * a request gets a 503 at once; a worker's client waits for Redis to come back, as BullMQ's workers must
 * (maxRetriesPerRequest null: a blocking command is never given up).
 */
export async function connectRedis(url: string, { failFast }: { failFast: boolean }): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: failFast ? 1 : null,
    enableOfflineQueue: !failFast,
    // A first connection that fails is reported rather than retried forever; later losses are retried.
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  redis.on('error', () => {
    // Reported by the commands that fail; ioredis reconnects on its own.
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new Error(`cannot reach Redis at ${redisUrlForDisplay(url)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return redis;
}

/** Whether the error says that Redis cannot be reached now (as a fail-fast client reports it), not a bad command. */
export function isRedisUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT/.test(error.message)
  );
}
