import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { outputSize } from '../helper/imageio/index.js';
import { healthSchema, type JobStatus } from '../shared/protocol.js';
import { expectError, rawRequest } from './support/helperClient.js';
import { teamCluster } from './support/teamCluster.js';
import { describeCancelAndOwnership } from './team/cancelAndOwnership.js';
import { describeCreativeJobs } from './team/creativeJobs.js';
import { describeQueueOrder } from './team/queueOrder.js';
import { describeTeamPlugin } from './team/teamPlugin.js';
import { describeWorkerRestart } from './team/workerRestart.js';
import { jobsTakenBy, startGatewayProcess } from './support/teamProcesses.js';

/**
 * Team mode with real parts, all started here (test/support/teamCluster.ts): Debian's redis-server, the real
 * `gramstyle gateway`, and two `gramstyle worker` processes running the real engine with the real VGG-19 weights, at
 * 64 px. The file shares them across its tests, with those of test/team/ (the kill -9 test leaves one worker, for
 * the tests of the queue's order that follow it).
 */

const QUOTA = 4;
const PUBLIC_NAME = 'style.example.test';

const team = teamCluster(['--max-waiting', String(QUOTA), '--public-name', PUBLIC_NAME]);
const { as, job, workerOf, waitUntilRunning, addUser, tokens } = team;

// Before the tests below: the last of them leaves one worker.
describeCreativeJobs(team);
describeTeamPlugin(team);
describeCancelAndOwnership(team);

describe('team mode: a gateway, two workers and Redis', () => {
  it('says it is a gateway with two workers, and whose token it is', async () => {
    const health = await as('alice').health();
    expect(health).toMatchObject({ role: 'gateway', status: 'ready', details: { user: 'alice', workers: 2 } });
    expect((await as('alice').publicHealth()).details).toBeNull();
  });

  it('interleaves two users’ jobs on both workers, with progress, previews and right-sized PNG results', async () => {
    const alice = as('alice');
    const bob = as('bob');
    const batch = await alice.fetch('/v1/batches', {
      method: 'POST',
      body: JSON.stringify({ contents: [team.images.content, team.images.wide, team.images.content], style: team.images.style, options: { size: 64, iterations: 12 } }),
    });
    expect(batch.status).toBe(202);
    const aliceJobs = ((await batch.json()) as { jobs: string[] }).jobs;
    expect(aliceJobs).toHaveLength(3);
    const bobJob = await bob.submitOk(job(team.images.wide, 12));

    const seen = new Map<string, JobStatus[]>();
    await Promise.all(
      [...aliceJobs.map((id) => ({ id, client: alice })), { id: bobJob, client: bob }].map(async ({ id, client }) => {
        seen.set(id, await client.pollUntil(id, (status) => status.status === 'done' || status.status === 'failed', 180_000));
      }),
    );
    for (const [id, statuses] of seen) {
      expect(statuses.at(-1)!.status, `job ${id}: ${JSON.stringify(statuses.at(-1)!.error)}`).toBe('done');
      expect(statuses.some((status) => status.status === 'running' && status.progress.iteration > 0)).toBe(true);
      expect(statuses.some((status) => status.preview !== null)).toBe(true);
      expect(statuses.at(-1)!.restarts).toBe(0);
    }

    // Bob's one job ran before Alice's third: each job's priority grows with its user's jobs ahead of it.
    const takenInOrder = team.workers
      .flatMap((worker) => [...worker.log().matchAll(/^(\S+) took job (\S+)/gm)].map((match) => ({ at: match[1]!, id: match[2]! })))
      .sort((a, b) => a.at.localeCompare(b.at))
      .map(({ id }) => id);
    expect(takenInOrder.indexOf(bobJob)).toBeLessThan(takenInOrder.indexOf(aliceJobs[2]!));
    // Both workers took some of them.
    for (const worker of team.workers) expect(jobsTakenBy(worker).length, worker.name).toBeGreaterThan(0);

    // The results: PNGs at the job's size, in the content's aspect ratio.
    const contentOf = new Map([...aliceJobs.map((id, index) => [id, index === 1 ? team.images.wide : team.images.content] as const), [bobJob, team.images.wide]]);
    for (const [id, client] of [...aliceJobs.map((id) => [id, alice] as const), [bobJob, bob] as const]) {
      const response = await client.fetch(`/v1/jobs/${id}/result`);
      expect(response.headers.get('content-type')).toMatch(/image\/png/);
      const { width, height, format } = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
      const content = await sharp(Buffer.from(contentOf.get(id)!, 'base64')).metadata();
      expect({ width, height, format }).toEqual({ ...outputSize(content.width!, content.height!, 64), format: 'png' });
      expect(seen.get(id)!.at(-1)!.result).toEqual({ width, height });
    }
  });

  it('stops a canceled job on the worker running it within one iteration; users see and cancel only their own jobs', async () => {
    const alice = as('alice');
    const bob = as('bob');
    const carol = as('carol');
    const aliceJob = await alice.submitOk(job(team.images.content, 5000));
    const bobJob = await bob.submitOk(job(team.images.content, 5000));
    await Promise.all([waitUntilRunning(alice, aliceJob), waitUntilRunning(bob, bobJob)]);
    const aliceWorker = workerOf(aliceJob)!;
    const bobWorker = workerOf(bobJob)!;
    expect(aliceWorker).toBeDefined();
    expect(bobWorker).not.toBe(aliceWorker);

    // Both workers are busy: what is queued now waits. Bob has a job running and Carol none: her first goes first,
    // Bob's next, then Carol's others.
    const bobWaiting = await bob.submitOk(job(team.images.content, 4));
    const carolBatch = await carol.fetch('/v1/batches', {
      method: 'POST',
      body: JSON.stringify({ contents: Array(QUOTA).fill(team.images.content), style: team.images.style, options: { size: 64, iterations: 4 } }),
    });
    expect(carolBatch.status).toBe(202);
    const carolJobs = ((await carolBatch.json()) as { jobs: string[] }).jobs;
    expect((await bob.status(bobWaiting)).queuePosition).toBe(2);
    expect(await Promise.all(carolJobs.map(async (id) => (await carol.status(id)).queuePosition))).toEqual([1, 3, 4, 5]);
    // Carol is at her quota of waiting jobs: one more is refused, and so is a batch that would pass it.
    await expectError(await carol.submit(job(team.images.content, 4)), 429, 'queue-full', /you have 4 jobs waiting and may have at most 4/);
    expect((await alice.fetch('/v1/batches', {
      method: 'POST',
      body: JSON.stringify({ contents: Array(QUOTA + 1).fill(team.images.content), style: team.images.style }),
    })).status).toBe(429);

    // Alice cannot see, fetch or cancel Bob's job: to her it does not exist.
    await expectError(await alice.fetch(`/v1/jobs/${bobJob}`), 404, 'not-found');
    await expectError(await alice.fetch(`/v1/jobs/${bobJob}/result`), 404, 'not-found');
    await expectError(await alice.fetch(`/v1/jobs/${bobJob}`, { method: 'DELETE' }), 404, 'not-found');
    await expectError(await bob.fetch(`/v1/jobs/${aliceJob}`, { method: 'DELETE' }), 404, 'not-found');

    // Waiting jobs are removed from the queue by a cancel.
    for (const id of carolJobs) expect((await (await carol.fetch(`/v1/jobs/${id}`, { method: 'DELETE' })).json()).status).toBe('canceled');
    await bob.fetch(`/v1/jobs/${bobWaiting}`, { method: 'DELETE' });
    expect(await carol.status(carolJobs[0]!)).toMatchObject({ status: 'canceled', queuePosition: null });
    expect((await alice.health()).details!.queueLength).toBe(0);

    // Alice cancels hers: her worker stops it within one iteration of hearing so; Bob's goes on on the other.
    const canceled = await alice.fetch(`/v1/jobs/${aliceJob}`, { method: 'DELETE' });
    expect(canceled.status).toBe(200);
    expect(((await canceled.json()) as JobStatus).status).toBe('canceled');
    const [, askedAfter, stoppedAfter] = await aliceWorker.waitFor(
      new RegExp(`job ${aliceJob} canceled: asked after iteration (\\d+), stopped after iteration (\\d+)`),
      60_000,
    );
    expect(Number(stoppedAfter) - Number(askedAfter)).toBeLessThanOrEqual(1);
    // By the message on the cancel channel, not by the mark the worker reads with its progress writes (about 1 s later).
    expect(aliceWorker.log()).toContain(`job ${aliceJob}: cancel asked`);
    expect(aliceWorker.log()).not.toContain(`job ${aliceJob}: cancel mark found`);
    expect(bobWorker.log()).not.toContain(`job ${aliceJob} canceled`);
    await expectError(await alice.fetch(`/v1/jobs/${aliceJob}/result`), 409, 'not-finished', /canceled/);
    const bobBefore = (await bob.status(bobJob)).progress.iteration;
    await bob.pollUntil(bobJob, (status) => status.status === 'running' && status.progress.iteration > bobBefore, 60_000);

    await bob.fetch(`/v1/jobs/${bobJob}`, { method: 'DELETE' });
    await bobWorker.waitFor(new RegExp(`job ${bobJob} canceled`), 60_000);
  });

  it('refuses a revoked user’s token from the next request on', async () => {
    tokens.dave = await addUser('dave');
    expect((await as('dave').fetch('/v1/pairing')).status).toBe(200);
    const listed = await team.cli.run(['users', 'list', '--redis', team.redis.url]);
    expect(listed.stdout).toMatch(/^dave\tadded /m);
    const revoked = await team.cli.run(['users', 'revoke', 'dave', '--redis', team.redis.url]);
    expect(revoked.code, revoked.stderr).toBe(0);
    await expectError(await as('dave').fetch('/v1/pairing'), 401, 'unauthorized', /nobody’s/);
    expect((await as('dave').health()).details).toBeNull();
    expect((await team.cli.run(['users', 'list', '--redis', team.redis.url])).stdout).not.toMatch(/^dave/m);
    const again = await team.cli.run(['users', 'revoke', 'dave', '--redis', team.redis.url]);
    expect([again.code, again.stderr.trim()]).toEqual([1, 'gramstyle: there is no user "dave"']);
  });

  it('answers requests addressed to its public name, and refuses other names', async () => {
    const health = (host: string) => rawRequest(team.gateway.url, { path: '/v1/health', headers: { Host: host } });
    expect((await health(PUBLIC_NAME)).status).toBe(200);
    expect((await health(`${PUBLIC_NAME}:${team.gateway.port}`)).status).toBe(200);
    expect((await health('attacker.example')).status).toBe(403);
  });

  it('runs a batch from the command line with one progress bar over all its jobs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gramstyle-batch-'));
    try {
      const [content, style] = [join(dir, 'bridge.png'), join(dir, 'night.png')];
      await writeFile(content, Buffer.from(team.images.content, 'base64'));
      await writeFile(style, Buffer.from(team.images.style, 'base64'));
      const out = join(dir, 'out');
      const args = ['batch', '--server', team.gateway.url, '--token', tokens.carol!, style, content, content, '-o', out, '--size', '48', '--iterations', '6'];
      const { code, stdout, stderr } = await team.cli.run(args, 180_000);
      expect(code, stderr).toBe(0);
      expect(stdout.trim().split('\n')).toEqual([join(out, 'bridge.png'), join(out, 'bridge-2.png')]);
      expect(stderr).toMatch(/^batch of 2: /m);
      expect(stderr).toMatch(/2 of 2 done/);
      for (const file of ['bridge.png', 'bridge-2.png']) {
        const { width, format } = await sharp(await readFile(join(out, file))).metadata();
        expect({ width, format }).toEqual({ width: 48, format: 'png' });
      }
      const refused = await team.cli.run(['batch', '--server', team.gateway.url, '--token', '0'.repeat(64), style, content, '-o', out]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/the server refused the batch: .*nobody’s.*\(HTTP 401\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says what is wrong with a team command line, and exits 2', async () => {
    const usage = await Promise.all([
      team.cli.run(['users', 'rename', 'x', '--redis', team.redis.url]),
      team.cli.run(['batch', '--server', 'ftp://x', 'style.png']),
      team.cli.run(['gateway', '--tls-cert', 'cert.pem', '--redis', 'http://x']),
    ]);
    expect(usage.map(({ code }) => code)).toEqual([2, 2, 2]);
    expect(usage[0]!.stderr).toMatch(/users: expected add NAME, revoke NAME or list, got "rename"/);
    expect(usage[1]!.stderr.split('\n')).toEqual(
      expect.arrayContaining([
        'gramstyle: --server: expected an http:// or https:// URL, got "ftp://x"',
        'gramstyle: batch: missing --token T (or GRAMSTYLE_TOKEN), your token for the server',
        'gramstyle: batch: missing the content images (one job each)',
        'gramstyle: batch: missing -o DIR, the folder to write the results to',
      ]),
    );
    expect(usage[2]!.stderr).toMatch(/--redis: expected a redis:\/\/ or rediss:\/\/ URL, got "http:\/\/x"/);
    expect(usage[2]!.stderr).toMatch(/--tls-cert and --tls-key go together/);
    const added = await team.cli.run(['users', 'add', 'alice', '--redis', team.redis.url]);
    expect([added.code, added.stderr.trim()]).toEqual([1, 'gramstyle: user "alice" exists already (revoke it first to give them a new token)']);
  });

  it('refuses to listen beyond loopback without TLS; listens there with a certificate', async () => {
    const bare = await team.cli.run(['gateway', '--redis', team.redis.url, '--host', '0.0.0.0', '--port', '0', '--public-name', PUBLIC_NAME]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without TLS/);
    // Without the name people reach it by, every request from another machine would be refused for its Host header.
    const nameless = await team.cli.run(['gateway', '--redis', team.redis.url, '--host', '0.0.0.0', '--port', '0', '--behind-proxy']);
    expect(nameless.code).toBe(2);
    expect(nameless.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without --public-name/);

    const dir = await mkdtemp(join(tmpdir(), 'gramstyle-tls-'));
    const [certPath, keyPath] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyPath, '-out', certPath,
    ]);
    const tlsArgs = ['--host', '0.0.0.0', '--public-name', PUBLIC_NAME, '--tls-cert', certPath, '--tls-key', keyPath];
    const tls = await startGatewayProcess(team.cli, team.redis.url, tlsArgs);
    try {
      expect(tls.url).toMatch(/^https:\/\/0\.0\.0\.0:\d+$/);
      const ca = await readFile(certPath);
      const body = await new Promise<string>((resolve, reject) => {
        const request = httpsRequest({ host: '127.0.0.1', port: tls.port, path: '/v1/health', ca }, (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk));
          response.on('end', () => resolve(text));
        });
        request.on('error', reject);
        request.end();
      });
      expect(healthSchema.parse(JSON.parse(body))).toMatchObject({ role: 'gateway', status: 'ready' });
    } finally {
      await tls.process.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// Last: the kill -9 test leaves one worker, for the tests of the queue's order.
describeWorkerRestart(team);
describeQueueOrder(team);
