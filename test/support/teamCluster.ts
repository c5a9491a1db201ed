import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect } from 'vitest';

import { GramstyleCli } from './gramstyleCli.js';
import { HelperClient } from './helperClient.js';
import { RedisServer } from './redisServer.js';
import { sharedImagePath } from './sharedAssets.js';
import { jobsTakenBy, type LoggedProcess, startGatewayProcess, startWorkerProcess } from './teamProcesses.js';

/**
 * A team for a test file, all real and started here: Debian's redis-server on a free port (nothing saved), the real
 * `gramstyle gateway`, and two `gramstyle worker` processes running the real engine with the real VGG-19 weights;
 * users alice, bob and carol; small pictures from ../shared as base64 PNG (a content, a wide one, two styles).
 * Started before the file's tests, stopped after them.
 */
export function teamCluster(gatewayArgs: readonly string[]) {
  const state = {
    redis: null as RedisServer | null,
    home: '',
    cli: null as GramstyleCli | null,
    gateway: null as { process: LoggedProcess; url: string; port: number } | null,
    workers: [] as LoggedProcess[],
    tokens: {} as Record<string, string>,
    images: null as { content: string; wide: string; style: string; secondStyle: string } | null,
  };
  const need = <T>(value: T | null, what: string): T => {
    if (value === null) throw new Error(`the team's ${what} has not started`);
    return value;
  };

  const cluster = {
    get redis(): RedisServer {
      return need(state.redis, 'Redis');
    },
    get cli(): GramstyleCli {
      return need(state.cli, 'CLI home');
    },
    get gateway() {
      return need(state.gateway, 'gateway');
    },
    get workers(): readonly LoggedProcess[] {
      return state.workers;
    },
    get images() {
      return need(state.images, 'pictures');
    },
    /** Each user's personal token, by name. */
    tokens: state.tokens,

    /** A user's client of the gateway. */
    as(user: string): HelperClient {
      return new HelperClient(cluster.gateway.url, state.tokens[user]!);
    },

    /** `gramstyle users add NAME`: the token it printed. */
    async addUser(name: string): Promise<string> {
      const { code, stdout, stderr } = await cluster.cli.run(['users', 'add', name, '--redis', cluster.redis.url]);
      expect(code, stderr).toBe(0);
      expect(stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
      state.tokens[name] = stdout.trim();
      return stdout.trim();
    },

    /** One job of `content` against the style, at 64 px. */
    job(content: string, iterations: number) {
      return { content, style: cluster.images.style, options: { size: 64, iterations } };
    },

    /** Which worker took the job, from their logs (each says "took job <id>"). */
    workerOf(id: string): LoggedProcess | undefined {
      return state.workers.find((worker) => jobsTakenBy(worker).includes(id));
    },

    async waitUntilRunning(client: HelperClient, id: string): Promise<void> {
      await client.pollUntil(id, (status) => status.status === 'running' && status.progress.iteration >= 1, 120_000);
    },
  };

  beforeAll(async () => {
    state.redis = await RedisServer.start();
    state.home = await mkdtemp(join(tmpdir(), 'gramstyle-team-'));
    state.cli = new GramstyleCli(state.home);
    [state.images, state.gateway] = await Promise.all([
      Promise.all(
        [['golden_gate.jpg', 96], ['hoovertowernight.jpg', 120], ['starry_night.jpg', 96], ['the_scream.jpg', 96]].map(([name, width]) =>
          sharedPng(name as string, width as number),
        ),
      ).then(([content, wide, style, secondStyle]) => ({ content: content!, wide: wide!, style: style!, secondStyle: secondStyle! })),
      startGatewayProcess(state.cli, state.redis.url, gatewayArgs),
    ]);
    for (const user of ['alice', 'bob', 'carol']) await cluster.addUser(user);
    state.workers = await Promise.all([startWorkerProcess(state.cli, state.redis.url, 'w1'), startWorkerProcess(state.cli, state.redis.url, 'w2')]);
  }, 240_000);

  afterAll(async () => {
    await Promise.all(state.workers.map((worker) => worker.kill()));
    await state.gateway?.process.stop();
    await state.redis?.stop();
    if (state.home) await rm(state.home, { recursive: true, force: true });
  });

  return cluster;
}

export type TeamCluster = ReturnType<typeof teamCluster>;

/** A shared picture as a small base64 PNG (the gateway brings it to the job's size). */
async function sharedPng(name: string, width: number): Promise<string> {
  return (await sharp(sharedImagePath(name)).resize(width).png().toBuffer()).toString('base64');
}
