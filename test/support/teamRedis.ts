import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisBlobStore } from '../../helper/team/blobStore.js';
import { jobBlobs, QUEUE_NAME, QUEUE_PREFIX, teamKeys } from '../../helper/team/teamKeys.js';

/**
 * A test's own look into the team's Redis, beside the gateway and the workers: to read what they keep there, and to
 * play what the test cannot make them do on cue (a cancel message that is lost, a worker that lost its job writing
 * late). Closed with close().
 */
export async function openTeamRedis(url: string) {
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE_NAME, { connection: redis, prefix: QUEUE_PREFIX });
  const store = new RedisBlobStore(redis);
  return {
    redis,
    store,
    /** The BullMQ job of that id, as Redis holds it. */
    async bullJob(id: string): Promise<Job> {
      const job = await Job.fromId(queue, id);
      if (!job) throw new Error(`BullMQ has no job ${id}`);
      return job;
    },
    /** The cancel mark alone, as a DELETE leaves it whose message no worker heard. */
    async markCanceled(id: string): Promise<void> {
      await redis.hset(teamKeys.jobRecord(id), 'canceled', 1);
    },
    /** Which of the job's input blobs (content, first style) Redis still holds. */
    async inputBlobsLeft(id: string): Promise<string[]> {
      const names = [jobBlobs.content(id), jobBlobs.style(id, 0)];
      const metas = await Promise.all(names.map((name) => store.meta(name)));
      return names.filter((_, index) => metas[index] !== null);
    },
    /** The user's stable id, as `gramstyle users add` gave it. */
    async userId(name: string): Promise<string> {
      const entry = await redis.hget(teamKeys.users, name);
      if (entry === null) throw new Error(`there is no user ${name}`);
      return (JSON.parse(entry) as { id: string }).id;
    },
    async close(): Promise<void> {
      await queue.close();
      redis.disconnect();
    },
  };
}

export type TeamRedis = Awaited<ReturnType<typeof openTeamRedis>>;

/** For a describe block: opened before its tests, closed after them; the function gives it to the tests. */
export function teamRedisDuringTests(url: () => string): () => TeamRedis {
  let opened: TeamRedis | null = null;
  beforeAll(async () => {
    opened = await openTeamRedis(url());
  });
  afterAll(async () => {
    await opened?.close();
  });
  return () => {
    if (!opened) throw new Error('the team’s Redis is opened before the tests');
    return opened;
  };
}
