import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { CANCEL_CHANNEL, jobBlobs, teamKeys } from '../../helper/team/teamKeys.js';
import { expectError } from '../support/helperClient.js';
import type { TeamCluster } from '../support/teamCluster.js';
import { teamRedisDuringTests } from '../support/teamRedis.js';

/**
 * Cancels that do not rest on one pub/sub message, and jobs that belong to a user's stable id rather than their name.
 * Runs while the team has both its workers.
 */
export function describeCancelAndOwnership(team: TeamCluster): void {
  describe('cancels and owners in team mode', () => {
    const teamRedis = teamRedisDuringTests(() => team.redis.url);

    const canceledPattern = (id: string) => new RegExp(`job ${id} canceled: asked after iteration (\\d+), stopped after iteration (\\d+)`);

    it('stops a running job whose cancel message was lost: its worker finds the cancel mark as it writes progress', async () => {
      const redis = teamRedis();
      const bob = team.as('bob');
      const id = await bob.submitOk(team.job(team.images.content, 5000));
      await team.waitUntilRunning(bob, id);
      const worker = team.workerOf(id)!;
      // The mark alone, as a DELETE whose message no worker heard leaves it: nothing is published.
      await redis.markCanceled(id);
      const [, askedAfter, stoppedAfter] = await worker.waitFor(canceledPattern(id), 60_000);
      expect(Number(stoppedAfter) - Number(askedAfter)).toBeLessThanOrEqual(1);
      expect(worker.log()).toContain(`job ${id}: cancel mark found`);
      expect((await bob.status(id)).status).toBe('canceled');
    });

    it('publishes the cancel again when a job still running is canceled again', async () => {
      const redis = teamRedis();
      const bob = team.as('bob');
      const heard: string[] = [];
      const subscriber = redis.redis.duplicate();
      await subscriber.subscribe(CANCEL_CHANNEL);
      subscriber.on('message', (_channel: string, id: string) => heard.push(id));
      try {
        const id = await bob.submitOk(team.job(team.images.content, 5000));
        await team.waitUntilRunning(bob, id);
        // A first DELETE whose message was lost left the mark; the user, seeing the job run on, cancels again.
        await redis.markCanceled(id);
        const again = await bob.fetch(`/v1/jobs/${id}`, { method: 'DELETE' });
        expect(again.status).toBe(200);
        await expect.poll(() => heard, { timeout: 10_000 }).toContain(id);
        await team.workerOf(id)!.waitFor(canceledPattern(id), 60_000);
      } finally {
        await subscriber.quit();
      }
    });

    it('keeps a job canceled that finished as it was canceled, and serves no result for it', async () => {
      const redis = teamRedis();
      const carol = team.as('carol');
      const id = await carol.submitOk(team.job(team.images.content, 4));
      const statuses = await carol.pollUntil(id, (status) => ['done', 'failed', 'canceled'].includes(status.status), 120_000);
      expect(statuses.at(-1)!.status).toBe('done');
      // The mark of a DELETE that found the job running while its engine made the last iteration.
      await redis.markCanceled(id);
      expect((await carol.status(id)).status).toBe('canceled');
      await expectError(await carol.fetch(`/v1/jobs/${id}/result`), 409, 'not-finished');
    });

    it('answers 404, not 500, for a finished job that BullMQ has since removed (its record outlives it)', async () => {
      const redis = teamRedis();
      const carol = team.as('carol');
      const id = await carol.submitOk(team.job(team.images.content, 4));
      await carol.pollUntil(id, (status) => status.status === 'done', 120_000);
      // What BullMQ does to a finished job after --keep-minutes.
      await (await redis.bullJob(id)).remove();
      await expectError(await carol.fetch(`/v1/jobs/${id}`), 404, 'not-found');
      await expectError(await carol.fetch(`/v1/jobs/${id}/result`), 404, 'not-found');
      await expectError(await carol.fetch(`/v1/jobs/${id}`, { method: 'DELETE' }), 404, 'not-found');
    });

    it('serves no result for a job that is not done, whatever a stopped attempt left in the store', async () => {
      const redis = teamRedis();
      const carol = team.as('carol');
      const id = await carol.submitOk(team.job(team.images.content, 5000));
      await team.waitUntilRunning(carol, id);
      // A worker that lost the job (cut off from Redis past its lock) but lived on, writing a result.
      await redis.store.put(jobBlobs.result(id), { bytes: Buffer.from('not this attempt'), meta: { width: 1, height: 1 } }, 60_000);
      await expectError(await carol.fetch(`/v1/jobs/${id}/result`), 409, 'not-finished', /running/);
      await carol.fetch(`/v1/jobs/${id}`, { method: 'DELETE' });
      await team.workerOf(id)!.waitFor(new RegExp(`job ${id} canceled`), 60_000);
    });

    it('answers 401, not 500, to a user stored by an earlier version (no user id), who can be listed and revoked', async () => {
      const redis = teamRedis();
      const token = 'f'.repeat(64);
      const tokenHash = createHash('sha256').update(token).digest('hex');
      await redis.redis.hset(teamKeys.tokens, tokenHash, 'olduser');
      await redis.redis.hset(teamKeys.users, 'olduser', JSON.stringify({ tokenHash, createdAt: '2026-11-01T00:00:00.000Z' }));
      const old = team.as('alice');
      await expectError(await old.fetch('/v1/pairing', { token }), 401, 'unauthorized', /nobody/);
      const listed = await team.cli.run(['users', 'list', '--redis', team.redis.url]);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).toContain('olduser\tadded 2026-11-01');
      const revoked = await team.cli.run(['users', 'revoke', 'olduser', '--redis', team.redis.url]);
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(await redis.redis.hexists(teamKeys.tokens, tokenHash)).toBe(0);
    });

    it('gives a name revoked and added again none of the jobs of the user it named before', async () => {
      const redis = teamRedis();
      team.tokens.erin = await team.addUser('erin');
      const before = team.as('erin');
      const oldJob = await before.submitOk(team.job(team.images.content, 4));
      await before.pollUntil(oldJob, (status) => status.status === 'done', 120_000);
      const oldId = await redis.userId('erin');

      const revoked = await team.cli.run(['users', 'revoke', 'erin', '--redis', team.redis.url]);
      expect(revoked.code, revoked.stderr).toBe(0);
      team.tokens.erin = await team.addUser('erin');
      expect(await redis.userId('erin')).not.toBe(oldId);
      const after = team.as('erin');
      await expectError(await after.fetch(`/v1/jobs/${oldJob}`), 404, 'not-found');
      await expectError(await after.fetch(`/v1/jobs/${oldJob}/result`), 404, 'not-found');
      await expectError(await after.fetch(`/v1/jobs/${oldJob}`, { method: 'DELETE' }), 404, 'not-found');
      // The new erin's own jobs are hers as usual.
      const own = await after.submitOk(team.job(team.images.content, 4));
      const last = (await after.pollUntil(own, (status) => ['done', 'failed', 'canceled'].includes(status.status), 120_000)).at(-1)!;
      expect(last.status).toBe('done');
    });
  });
}
