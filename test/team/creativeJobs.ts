import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { outputSize } from '../../helper/imageio/index.js';
import { teamJobDataSchema } from '../../helper/team/teamJob.js';
import { QUEUE_NAME, QUEUE_PREFIX } from '../../helper/team/teamKeys.js';
import { strengthRowResultSchema } from '../../shared/protocol.js';
import { STRENGTH_ROW_ITERATIONS, STRENGTH_ROW_SIZE, strengthRow } from '../../shared/strengthRow.js';
import type { TeamCluster } from '../support/teamCluster.js';

/**
 * The creative controls in team mode: several style images with weights, the options that keep colours and set the
 * brush size, and the strength row, carried from the gateway through BullMQ to a worker. The BullMQ job itself is read
 * back from Redis: it names its images in the blob store and carries none of them.
 */
export function describeCreativeJobs(team: TeamCluster): void {
  describe('the creative controls through the gateway', () => {
    it('runs a blend of two weighted styles with preserved colours and a brush size on a worker', async () => {
      const alice = team.as('alice');
      const { content, style, secondStyle } = team.images;
      const options = { size: 64, iterations: 6, preserveColors: 'luminance', styleScale: 0.75 } as const;
      const id = await alice.submitOk({ content, styles: [{ image: style, weight: 2 }, { image: secondStyle, weight: 1 }], options });
      const statuses = await alice.pollUntil(id, (status) => ['done', 'failed', 'canceled'].includes(status.status), 180_000);
      const last = statuses.at(-1)!;
      expect(last.status, JSON.stringify(last.error)).toBe('done');
      const { width, height } = await sharp(Buffer.from(content, 'base64')).metadata();
      expect(last).toMatchObject({ kind: 'stylize', result: outputSize(width!, height!, 64) });
      const png = Buffer.from(await (await alice.fetch(`/v1/jobs/${id}/result`)).arrayBuffer());
      expect(await sharp(png).metadata()).toMatchObject({ format: 'png', ...outputSize(width!, height!, 64) });
      expect(team.workerOf(id)!.log()).toMatch(new RegExp(`took job ${id} of alice: stylize, 2 style images weighted 2:1`));

      // What the queue carried: the options, each style's weight and key, and only the names of the images.
      const data = teamJobDataSchema.parse((await bullJob(team, id)).data);
      expect(data).toMatchObject({ kind: 'stylize', ownerName: 'alice', options: { ...options, strength: 50 } });
      expect(data.styles.map(({ weight }) => weight)).toEqual([2, 1]);
      expect(new Set(data.styles.map(({ blob }) => blob)).size).toBe(2);
      expect(data.styles.every(({ key }) => /^[0-9a-f]{64}$/.test(key))).toBe(true);
      expect(JSON.stringify(data).length).toBeLessThan(2000);
    });

    it('runs a strength row on a worker: its previews at the row’s strengths, progress over all of them', async () => {
      const bob = team.as('bob');
      const id = await bob.submitOk({ kind: 'strength-row', content: team.images.wide, style: team.images.style, options: { strength: 30 } });
      const statuses = await bob.pollUntil(id, (status) => ['done', 'failed', 'canceled'].includes(status.status), 180_000);
      const last = statuses.at(-1)!;
      expect(last.status, JSON.stringify(last.error)).toBe('done');
      const strengths = strengthRow(30);
      const total = STRENGTH_ROW_ITERATIONS * strengths.length;
      expect(statuses.every((status) => status.kind === 'strength-row' && status.progress.total === total)).toBe(true);
      expect(last.progress.iteration).toBe(total);

      const answer = await bob.fetch(`/v1/jobs/${id}/result`);
      expect(answer.headers.get('content-type')).toMatch(/application\/json/);
      const { previews } = strengthRowResultSchema.parse(await answer.json());
      expect(previews.map(({ strength }) => strength)).toEqual(strengths);
      const { width, height } = await sharp(Buffer.from(team.images.wide, 'base64')).metadata();
      const size = outputSize(width!, height!, STRENGTH_ROW_SIZE);
      for (const preview of previews) {
        expect(await sharp(Buffer.from(preview.png, 'base64')).metadata()).toMatchObject({ format: 'png', ...size });
      }
      expect(last.result).toEqual(size);
      expect(team.workerOf(id)!.log()).toMatch(new RegExp(`job ${id} done \\(a strength row of ${strengths.length}, each ${size.width}×${size.height}\\)`));
      const data = teamJobDataSchema.parse((await bullJob(team, id)).data);
      expect(data).toMatchObject({ kind: 'strength-row', strengths });
    });
  });
}

/** The BullMQ job of that id, as Redis holds it. */
async function bullJob(team: TeamCluster, id: string): Promise<Job> {
  const connection = new Redis(team.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE_NAME, { connection, prefix: QUEUE_PREFIX });
  try {
    const job = await Job.fromId(queue, id);
    if (!job) throw new Error(`BullMQ has no job ${id}`);
    return job;
  } finally {
    await queue.close();
    connection.disconnect();
  }
}
