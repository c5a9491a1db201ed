import { describe, expect, it } from 'vitest';

import { jobBlobs, teamKeys } from '../../helper/team/teamKeys.js';
import type { HelperClient } from '../support/helperClient.js';
import type { TeamCluster } from '../support/teamCluster.js';
import { jobsTakenBy } from '../support/teamProcesses.js';
import { teamRedisDuringTests } from '../support/teamRedis.js';

/**
 * The order of the queue with one worker (after the kill -9 test has left one): users take turns, queue positions
 * say so, and what jobs leave behind is gone when they end. A long job of Carol's holds the worker while jobs queue.
 */
export function describeQueueOrder(team: TeamCluster): void {
  describe('the queue with one worker left', () => {
    const teamRedis = teamRedisDuringTests(() => team.redis.url);

    const batch = async (client: HelperClient, count: number, iterations: number): Promise<string[]> => {
      const response = await client.fetch('/v1/batches', {
        method: 'POST',
        body: JSON.stringify({ contents: Array(count).fill(team.images.content), style: team.images.style, options: { size: 64, iterations } }),
      });
      expect(response.status).toBe(202);
      return ((await response.json()) as { jobs: string[] }).jobs;
    };
    const cancel = async (client: HelperClient, id: string): Promise<void> => {
      expect((await client.fetch(`/v1/jobs/${id}`, { method: 'DELETE' })).status).toBe(200);
    };
    const untilEnded = (client: HelperClient, id: string) =>
      client.pollUntil(id, (status) => ['done', 'failed', 'canceled'].includes(status.status), 180_000);
    /** A long job of Carol's, running on the one worker. */
    const holdTheWorker = async (): Promise<string> => {
      const carol = team.as('carol');
      const id = await carol.submitOk(team.job(team.images.content, 5000));
      await team.waitUntilRunning(carol, id);
      return id;
    };

    it('takes the users’ next jobs in turn: a later batch does not jump the rest of an earlier one', async () => {
      const redis = teamRedis();
      const [alice, bob, carol] = [team.as('alice'), team.as('bob'), team.as('carol')];
      expect(team.workers.filter((worker) => worker.child.exitCode === null && worker.child.signalCode === null)).toHaveLength(1);
      const blocker = await holdTheWorker();
      // Alice queues four while the worker is busy; her second is long, so that it runs while Bob queues his.
      const aliceFirst = await alice.submitOk(team.job(team.images.content, 3));
      const aliceLong = await alice.submitOk(team.job(team.images.content, 5000));
      const aliceRest = await batch(alice, 2, 3);
      await cancel(carol, blocker);
      await team.waitUntilRunning(alice, aliceLong);
      expect((await alice.status(aliceFirst)).status).toBe('done');
      const bobJobs = await batch(bob, 3, 3);

      // Bob, with nothing running, goes first; then Alice's next and Bob's next take turns.
      await redis.redis.config('RESETSTAT');
      const positions = await Promise.all([
        ...aliceRest.map(async (id) => (await alice.status(id)).queuePosition),
        ...bobJobs.map(async (id) => (await bob.status(id)).queuePosition),
      ]);
      expect(positions).toEqual([2, 4, 1, 3, 5]);
      // Told by rank in BullMQ's keys, without listing the queue.
      expect(await redis.redis.info('commandstats')).not.toMatch(/^cmdstat_zrange:/m);

      await cancel(alice, aliceLong);
      const waiting = [...aliceRest, ...bobJobs];
      const ended = await Promise.all(waiting.map((id, index) => untilEnded(index < 2 ? alice : bob, id)));
      expect(ended.map((statuses) => statuses.at(-1)!.status)).toEqual(['done', 'done', 'done', 'done', 'done']);
      const started = team.workers.flatMap(jobsTakenBy).filter((id) => waiting.includes(id));
      expect(started).toEqual([bobJobs[0], aliceRest[0], bobJobs[1], aliceRest[1], bobJobs[2]]);
    }, 240_000);

    it('deletes the input images of a job canceled while waiting and of a failed one when they end; forgets both', async () => {
      const redis = teamRedis();
      const alice = team.as('alice');
      const blocker = await holdTheWorker();
      const [canceled, failing] = await batch(alice, 2, 3);
      expect(await redis.inputBlobsLeft(canceled!)).toHaveLength(2);
      // Alice's set of unfinished jobs expires with them, should nothing trim it.
      const aliceJobs = teamKeys.userJobs(await redis.userId('alice'));
      expect(await redis.redis.pttl(aliceJobs)).toBeGreaterThan(0);
      await cancel(alice, canceled!);
      // A damaged content image: the worker cannot decode it, and the job fails before its engine runs.
      const content = await redis.store.get(jobBlobs.content(failing!));
      await redis.store.put(jobBlobs.content(failing!), { bytes: Buffer.from('not a png'), meta: content!.meta }, 60_000);
      await cancel(team.as('carol'), blocker);
      const last = (await untilEnded(alice, failing!)).at(-1)!;
      expect(last.status).toBe('failed');

      for (const id of [canceled!, failing!, blocker]) {
        await expect.poll(() => redis.inputBlobsLeft(id), { timeout: 10_000 }).toEqual([]);
      }
      await expect.poll(async () => redis.redis.zscore(aliceJobs, failing!), { timeout: 10_000 }).toBeNull();
      expect(await redis.redis.zscore(aliceJobs, canceled!)).toBeNull();
    }, 240_000);
  });
}
