import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { jobBlobs } from '../../helper/team/teamKeys.js';
import type { TeamCluster } from '../support/teamCluster.js';
import { openTeamRedis } from '../support/teamRedis.js';

/**
 * A worker killed while it runs a job (kill -9: no goodbye): the job runs again on the other worker, from the
 * beginning, and the gateway says so. Leaves the team with one worker.
 */
export function describeWorkerRestart(team: TeamCluster): void {
  describe('a worker killed mid-job', () => {
    it('runs a job again on the other worker when the one running it is killed (kill -9): restarted, from the beginning', async () => {
      const [alice, carol] = [team.as('alice'), team.as('carol')];
      const redis = await openTeamRedis(team.redis.url);
      try {
        // Alice's long job holds one worker, so that Carol's job waits in the queue once it is put back.
        const blocker = await alice.submitOk(team.job(team.images.content, 5000));
        await team.waitUntilRunning(alice, blocker);
        const id = await carol.submitOk(team.job(team.images.content, 40));
        const before = await carol.pollUntil(id, (status) => status.status === 'running' && status.preview !== null, 120_000);
        const killedAt = before.at(-1)!;
        const victim = team.workerOf(id)!;
        const survivor = team.workers.find((worker) => worker !== victim)!;
        expect(team.workerOf(blocker)).toBe(survivor);
        await victim.kill();

        // Back in the queue once its lock expires: it says it restarted, and shows nothing of the dead attempt.
        const requeued = (await carol.pollUntil(id, (status) => status.restarts > 0, 60_000)).at(-1)!;
        expect(requeued).toMatchObject({ status: 'queued', queuePosition: 1, restarts: 1, preview: null, progress: { iteration: 0 } });

        await alice.fetch(`/v1/jobs/${blocker}`, { method: 'DELETE' });
        await survivor.waitFor(new RegExp(`took job ${id} of carol \\(restarted: its worker stopped 1×\\)`), 60_000);
        // The new attempt starts without the dead one's preview...
        expect((await redis.store.meta(jobBlobs.preview(id)))?.attempt ?? 2).toBe(2);
        // ...and the gateway shows nothing a worker that lost the job writes late.
        const lateMeta = { iteration: 9999, width: killedAt.preview!.width, height: killedAt.preview!.height, attempt: 1 };
        await redis.store.put(jobBlobs.preview(id), { bytes: Buffer.from(killedAt.preview!.png, 'base64'), meta: lateMeta }, 60_000);
        await (await redis.bullJob(id)).updateProgress({ attempt: 1, progress: { ...killedAt.progress, iteration: 39 } });
        const late = await carol.status(id);
        expect(late.preview?.iteration).not.toBe(9999);
        expect(late.progress.iteration).toBeLessThan(39);

        const after = [requeued, late, ...(await carol.pollUntil(id, (status) => ['done', 'failed', 'canceled'].includes(status.status), 180_000))];
        const last = after.at(-1)!;
        expect(last.status, JSON.stringify(last.error)).toBe('done');
        expect(after.every((status) => status.restarts === 1 && status.preview?.iteration !== 9999)).toBe(true);
        // Progress counts from the beginning again, and only forward.
        const iterations = after.map((status) => status.progress.iteration);
        expect(iterations).toEqual([...iterations].sort((a, b) => a - b));
        expect(last.progress.iteration).toBe(40);
        const png = Buffer.from(await (await carol.fetch(`/v1/jobs/${id}/result`)).arrayBuffer());
        expect((await sharp(png).metadata()).width).toBe(64);
      } finally {
        await redis.close();
      }
    }, 240_000);
  });
}
