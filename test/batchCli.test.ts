import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { planOutputs } from '../helper/cli/batchCommand.js';
import { jobStatusSchema } from '../shared/protocol.js';
import { RecordingProxy } from './support/recordingProxy.js';
import { teamCluster } from './support/teamCluster.js';

/**
 * `gramstyle batch` against a real team (test/support/teamCluster.ts: Debian's redis-server, the real gateway and two
 * real workers, at 64 px): a batch larger than the user's quota of waiting jobs goes in chunks, its polls ask for no
 * preview, and a job whose worker is killed says it restarted. The kill comes last: it leaves one worker.
 */

const QUOTA = 3;
const team = teamCluster(['--max-waiting', String(QUOTA)]);

let dir = '';
let style = '';
let content = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gramstyle-batch-cli-'));
  [content, style] = [join(dir, 'bridge.png'), join(dir, 'night.png')];
  await writeFile(content, Buffer.from(team.images.content, 'base64'));
  await writeFile(style, Buffer.from(team.images.style, 'base64'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs `test` with a recording proxy in front of the team's gateway, closed after it. */
async function throughProxy(test: (proxy: RecordingProxy) => Promise<void>): Promise<void> {
  const proxy = await RecordingProxy.start(team.gateway.url);
  try {
    await test(proxy);
  } finally {
    await proxy.close();
  }
}

describe('gramstyle batch against a gateway', () => {
  it('sends a batch larger than the quota in chunks the server takes', async () => {
    await throughProxy(async (proxy) => {
      const frames = 8;
      const out = join(dir, 'chunks');
      const args = ['batch', '--server', proxy.url, '--token', team.tokens.alice!, style, ...Array<string>(frames).fill(content), '-o', out];
      const { code, stdout, stderr } = await team.cli.run([...args, '--size', '64', '--iterations', '4'], 240_000);
      expect(code, stderr).toBe(0);
      expect(stderr).toMatch(new RegExp(`${frames} of ${frames} done`));
      const written = stdout.trim().split('\n');
      expect(written).toHaveLength(frames);
      for (const file of written) expect((await sharp(await readFile(file)).metadata()).width).toBe(64);

      // No request passed the quota by more than a 429 could tell: the refused ones were too big, the taken ones fit.
      const batches = proxy.exchanges.filter((exchange) => exchange.method === 'POST' && exchange.url === '/v1/batches');
      const taken = batches.filter((exchange) => exchange.status === 202).map((exchange) => (exchange.json as { jobs: string[] }).jobs.length);
      expect(taken.reduce((sum, count) => sum + count, 0)).toBe(frames);
      expect(Math.max(...taken)).toBeLessThanOrEqual(QUOTA);
      expect(batches.filter((exchange) => exchange.status !== 202).map((exchange) => exchange.status)).toEqual(
        batches.filter((exchange) => exchange.status !== 202).map(() => 429),
      );
      expect(batches[0]!.status).toBe(429); // the first try (32) was over the quota of 3
      expect(stderr).toMatch(/the server takes no more jobs for now \(.*may have at most 3.*\); sending the rest as jobs start/);
    });
  });

  it('polls its jobs without fetching their previews again and again', async () => {
    await throughProxy(async (proxy) => {
      const args = ['batch', '--server', proxy.url, '--token', team.tokens.bob!, style, content, '-o', join(dir, 'polls')];
      const { code, stderr } = await team.cli.run([...args, '--size', '64', '--iterations', '12'], 120_000);
      expect(code, stderr).toBe(0);
      // The batch shows no previews: every poll asks only for one past the job's last iteration, and none comes.
      const polls = proxy.exchanges.filter((exchange) => exchange.method === 'GET' && /^\/v1\/jobs\/[^/]+(\?|$)/.test(exchange.url));
      expect(polls.length).toBeGreaterThan(0);
      for (const poll of polls) expect(poll.url).toMatch(/\?previewAfter=12$/);
      expect(polls.map((poll) => jobStatusSchema.parse(poll.json).preview)).toEqual(polls.map(() => null));
    });
  });

  it('rides out a server that stops answering for a while (a gateway restart, a network cut): the batch completes', async () => {
    await throughProxy(async (proxy) => {
      const args = ['batch', '--server', proxy.url, '--token', team.tokens.bob!, style, content, '-o', join(dir, 'outage')];
      const run = team.cli.run([...args, '--size', '64', '--iterations', '40'], 180_000);
      const polled = () => proxy.exchanges.some((exchange) => exchange.method === 'GET' && exchange.url.startsWith('/v1/jobs/'));
      await expect.poll(polled, { timeout: 60_000, interval: 50 }).toBe(true);
      proxy.outage(3000);
      const { code, stdout, stderr } = await run;
      expect(code, stderr).toBe(0);
      expect(stderr).toMatch(/the server is not answering \(.*\); asking again for up to 5 min/);
      expect(stderr).toMatch(/the server answers again after \d+ s/);
      expect(stderr).toMatch(/1 of 1 done/);
      expect((await sharp(await readFile(stdout.trim())).metadata()).width).toBe(64);
    });
  });

  it('names each result after its content, a name taken already with the first free suffix', () => {
    const names = planOutputs(['a/f.png', 'b/f.jpg', 'f-2.png', 'c/f.webp'], '/out').map((item) => item.outputPath);
    expect(names).toEqual(['/out/f.png', '/out/f-2.png', '/out/f-2-2.png', '/out/f-3.png']);
  });

  it('prints a line for a job that restarted on another worker when the one running it is killed (kill -9)', async () => {
    await team.addUser('dave');
    const out = join(dir, 'restart');
    const child = team.cli.spawn(['batch', '--server', team.gateway.url, '--token', team.tokens.dave!, style, content, '-o', out, '--size', '64', '--iterations', '40']);
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    const exited = new Promise<number | null>((done) => child.on('close', done));
    try {
      const takenBy = await Promise.race(team.workers.map((worker) => worker.waitFor(/took job (\S+) of dave/, 120_000)));
      const id = takenBy[1]!;
      await team.waitUntilRunning(team.as('dave'), id);
      await team.workerOf(id)!.kill();

      expect(await exited, stderr).toBe(0);
      expect(stderr.match(/restarted on another worker/g)).toHaveLength(1);
      expect(stderr).toMatch(new RegExp(`^gramstyle: ${content.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: restarted on another worker`, 'm'));
      expect(stdout.trim()).toBe(join(out, 'bridge.png'));
      expect((await team.as('dave').status(id)).restarts).toBe(1);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
