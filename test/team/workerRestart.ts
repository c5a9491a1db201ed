import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { TOKEN_SERVER_KEY } from '../../plugin/main/gramstyleMain.js';
import { RESTARTED_ON_WORKER_MESSAGE } from '../../plugin/ui/run.js';
import { jobBlobs } from '../../helper/team/teamKeys.js';
import { designerFile, readBuiltPanel, textOf, unexpectedConsoleErrors, waitForText } from '../support/panelTesting.js';
import { openPluginHarness } from '../support/pluginHarness.js';
import type { TeamCluster } from '../support/teamCluster.js';
import { openTeamRedis } from '../support/teamRedis.js';

const ITERATIONS = 120;
/** The iteration the dead attempt must have shown a preview of, well above where the next attempt's first one is. */
const KILLED_AFTER = 40;

/**
 * A worker killed while it runs a job (kill -9: no goodbye): the job runs again on the other worker, from the
 * beginning, and the gateway says so. Carol watches it in the panel (the built panel in Chromium inside Figma's
 * nesting of iframes, against the real gateway): it says the job restarted, drops the dead attempt's preview, shows
 * the new attempt's and inserts the result. Leaves the team with one worker.
 */
export function describeWorkerRestart(team: TeamCluster): void {
  describe('a worker killed mid-job', () => {
    it('runs a job again on the other worker when the one running it is killed (kill -9): restarted, from the beginning, and the panel says so', async () => {
      const [alice, carol] = [team.as('alice'), team.as('carol')];
      const redis = await openTeamRedis(team.redis.url);
      const { figma } = await designerFile({ size: 64, iterations: ITERATIONS, token: team.tokens.carol! });
      await figma.clientStorage.setAsync(TOKEN_SERVER_KEY, `http://localhost:${team.gateway.port}`);
      const harness = await openPluginHarness({ uiHtml: await readBuiltPanel(), figma, helperPort: team.gateway.port });
      const { panel } = harness;
      try {
        // Alice's long job holds one worker, so that Carol's job waits in the queue once it is put back.
        const blocker = await alice.submitOk(team.job(team.images.content, 5000));
        await team.waitUntilRunning(alice, blocker);
        const survivor = team.workerOf(blocker)!;
        const victim = team.workers.find((worker) => worker !== survivor)!;

        await waitForText(harness, '#helper-title', /^Connected to the team server$/);
        await waitForText(harness, '#content-card .frame-name', /^Landscape$/);
        const carolsJobsBefore = jobsOfCarol(victim).length;
        await panel.click('#stylize');
        await expect.poll(() => jobsOfCarol(victim).length, { timeout: 30_000 }).toBe(carolsJobsBefore + 1);
        const id = jobsOfCarol(victim).at(-1)!;
        const before = await carol.pollUntil(id, (status) => (status.preview?.iteration ?? 0) >= KILLED_AFTER, 120_000);
        const killedAt = before.at(-1)!;
        await waitForText(harness, '#preview-caption', /^Preview · iteration \d+ · /);
        expect(await textOf(harness, '#run-status')).toBe('');
        await victim.kill();

        // Back in the queue once its lock expires: it says it restarted, and shows nothing of the dead attempt.
        const requeued = (await carol.pollUntil(id, (status) => status.restarts > 0, 60_000)).at(-1)!;
        expect(requeued).toMatchObject({ status: 'queued', queuePosition: 1, restarts: 1, preview: null, progress: { iteration: 0 } });
        await waitForText(harness, '#run-status', new RegExp(`^${escape(RESTARTED_ON_WORKER_MESSAGE)}$`));
        await waitForText(harness, '#progress-label', /^Next in line…$/);
        expect(await panel.isVisible('#preview')).toBe(false);

        await alice.fetch(`/v1/jobs/${blocker}`, { method: 'DELETE' });
        await survivor.waitFor(new RegExp(`took job ${id} of carol \\(restarted: its worker stopped 1×\\)`), 60_000);
        // The new attempt starts without the dead one's preview...
        expect((await redis.store.meta(jobBlobs.preview(id)))?.attempt ?? 2).toBe(2);
        // ...and the gateway shows nothing a worker that lost the job writes late.
        const lateMeta = { iteration: 9999, width: killedAt.preview!.width, height: killedAt.preview!.height, attempt: 1 };
        await redis.store.put(jobBlobs.preview(id), { bytes: Buffer.from(killedAt.preview!.png, 'base64'), meta: lateMeta }, 60_000);
        await (await redis.bullJob(id)).updateProgress({ attempt: 1, progress: { ...killedAt.progress, iteration: ITERATIONS - 1 } });
        const late = await carol.status(id);
        expect(late.preview?.iteration).not.toBe(9999);
        expect(late.progress.iteration).toBeLessThan(ITERATIONS - 1);

        // The panel shows the new attempt's previews, from its first ones: it asks for the latest preview, not only
        // for one newer than the dead attempt's.
        await panel.waitForSelector('#preview', { state: 'visible', timeout: 60_000 });
        const shown = Number(/iteration (\d+)/.exec(await textOf(harness, '#preview-caption'))![1]);
        expect(shown).toBeLessThan(killedAt.preview!.iteration);
        expect(await textOf(harness, '#run-status')).toBe(RESTARTED_ON_WORKER_MESSAGE);

        const after = [requeued, late, ...(await carol.pollUntil(id, (status) => ['done', 'failed', 'canceled'].includes(status.status), 180_000))];
        const last = after.at(-1)!;
        expect(last.status, JSON.stringify(last.error)).toBe('done');
        expect(after.every((status) => status.restarts === 1 && status.preview?.iteration !== 9999)).toBe(true);
        // Progress counts from the beginning again, and only forward.
        const iterations = after.map((status) => status.progress.iteration);
        expect(iterations).toEqual([...iterations].sort((a, b) => a - b));
        expect(last.progress.iteration).toBe(ITERATIONS);
        const png = Buffer.from(await (await carol.fetch(`/v1/jobs/${id}/result`)).arrayBuffer());
        expect((await sharp(png).metadata()).width).toBe(64);

        await waitForText(harness, '#run-status', /^Inserted “Landscape × Brush strokes” beside Landscape\.$/, 30_000);
        const [image] = [...figma.images.values()];
        expect(await sharp(image!.bytes).metadata()).toMatchObject({ format: 'png', width: 64, height: 48 });
        expect(unexpectedConsoleErrors(harness)).toEqual([]);
      } finally {
        await harness.close();
        await redis.close();
      }
    }, 300_000);
  });
}

function jobsOfCarol(worker: TeamCluster['workers'][number]): string[] {
  return [...worker.log().matchAll(/took job (\S+) of carol/g)].map((match) => match[1]!);
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
