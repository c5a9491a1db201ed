/**
 * npm run team-bench [-- --jobs 6 --size 128 --iterations 30]: team mode's throughput on this machine, with one
 * worker and then two: Debian's redis-server, the real gateway and `gramstyle worker` processes on the real engine,
 * all started here on 127.0.0.1. Each worker first runs one job that is not counted (its engine's sessions are made
 * for the job's size then); the same batch is then timed from its submission to its last result.
 *
 * Two workers on one machine share its cores: on 2 cores each engine already uses both, so two come nowhere near
 * twice one. What they show here is that the jobs spread and nothing is lost on the way; on two GPU hosts each brings
 * its own device.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { fetchTransport, HelperClient } from '../shared/helperClient.js';
import { GramstyleCli } from '../test/support/gramstyleCli.js';
import { RedisServer } from '../test/support/redisServer.js';
import { jobsTakenBy, type LoggedProcess, startGatewayProcess, startWorkerProcess } from '../test/support/teamProcesses.js';
import { sharedImage } from './benchAssets.js';
import { describeMachine, sleep } from './servedHelper.js';

const { values } = parseArgs({
  options: { jobs: { type: 'string', default: '6' }, size: { type: 'string', default: '128' }, iterations: { type: 'string', default: '30' } },
});
const jobCount = Number(values.jobs);
const options = { size: Number(values.size), iterations: Number(values.iterations) };

const png = async (name: string) => (await sharp(sharedImage(name)).resize(256).png().toBuffer()).toString('base64');

/** Runs the batch to its end; returns the seconds from submission to the last job done. */
async function timeBatch(client: HelperClient, contents: string[], style: string): Promise<number> {
  const startedAt = performance.now();
  const ids = await client.createBatch({ contents, style, options });
  const pending = new Set(ids);
  while (pending.size > 0) {
    for (const id of [...pending]) {
      const status = await client.jobStatus(id);
      if (status.status === 'failed' || status.status === 'canceled') throw new Error(`job ${id} ${status.status}: ${status.error?.message}`);
      if (status.status === 'done') pending.delete(id);
    }
    if (pending.size > 0) await sleep(250);
  }
  return (performance.now() - startedAt) / 1000;
}

const redis = await RedisServer.start();
const home = await mkdtemp(join(tmpdir(), 'gramstyle-team-bench-'));
const cli = new GramstyleCli(home);
const workers: LoggedProcess[] = [];
let gateway: Awaited<ReturnType<typeof startGatewayProcess>> | undefined;
try {
  const machine = `${describeMachine()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free)`;
  gateway = await startGatewayProcess(cli, redis.url, ['--max-waiting', String(jobCount + 2)]);
  const token = (await cli.run(['users', 'add', 'bench', '--redis', redis.url])).stdout.trim();
  const client = new HelperClient(fetchTransport(gateway.url));
  client.token = token;
  const [content, style] = await Promise.all([png('golden_gate.jpg'), png('starry_night.jpg')]);
  const contents = Array<string>(jobCount).fill(content);

  const results: Array<{ workers: number; seconds: number; jobsPerMinute: number; taken: number[] }> = [];
  for (const count of [1, 2]) {
    while (workers.length < count) workers.push(await startWorkerProcess(cli, redis.url, `bench-w${workers.length + 1}`));
    // One job per worker that is not counted: each engine makes its sessions for this size.
    const warmUp = workers.map((worker) => jobsTakenBy(worker).length);
    await timeBatch(client, Array<string>(count).fill(content), style);
    if (workers.some((worker, index) => jobsTakenBy(worker).length === warmUp[index])) {
      // A worker that missed the warm-up (the other was quicker) warms up now.
      await timeBatch(client, [content], style);
    }
    const before = workers.map((worker) => jobsTakenBy(worker).length);
    const seconds = await timeBatch(client, contents, style);
    const taken = workers.map((worker, index) => jobsTakenBy(worker).length - before[index]!);
    results.push({ workers: count, seconds, jobsPerMinute: (jobCount * 60) / seconds, taken });
    console.log(`${count} worker${count > 1 ? 's' : ''}: ${jobCount} jobs in ${seconds.toFixed(1)} s (jobs per worker: ${taken.join(', ')})`);
  }
  const [one, two] = results as [(typeof results)[0], (typeof results)[0]];
  console.log(`\nteam mode throughput, ${jobCount} jobs of ${options.size} px × ${options.iterations} iterations`);
  console.log(`machine: ${machine}; load average at the end ${describeMachine().replace(/^.*load average /, '')}`);
  console.log(`  1 worker : ${one.jobsPerMinute.toFixed(2)} jobs/min`);
  console.log(`  2 workers: ${two.jobsPerMinute.toFixed(2)} jobs/min (${two.taken.join(' + ')} jobs)`);
  console.log(`  2 workers ÷ 1 worker: ${(two.jobsPerMinute / one.jobsPerMinute).toFixed(2)}× (2× would need a device per worker)`);
} finally {
  await Promise.all(workers.map((worker) => worker.stop()));
  await gateway?.process.stop();
  await redis.stop();
  await rm(home, { recursive: true, force: true });
}
