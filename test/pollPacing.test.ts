import { Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, jobStatusSchema, type JobStatus } from '../shared/protocol.js';
import type { RunningHelper } from '../helper/server/index.js';
import { rawRequest, type HelperClient } from './support/helperClient.js';
import { smallJobImages, startTestHelper } from './support/testHelper.js';

/**
 * A connection's repeated polls are paced (helper/server/pollPacing.ts): beyond a few answers at once, at most one
 * answer per interval to the same poll, except that a change of phase (a job starts, ends, gets its first preview)
 * is answered at once. The interval here is long, so that "at once" and "waited" cannot be mistaken for each other
 * on a slow machine.
 */
const TOKEN = 'p'.repeat(64);
const INTERVAL_MS = 4000;
/** The answers a connection gets at once before its polls wait for their turn (BURST in pollPacing.ts). */
const AT_ONCE = 3;
let helper: RunningHelper;
let client: HelperClient;
const logLines: string[] = [];
let images: [string, string];

beforeAll(async () => {
  ({ helper, client } = await startTestHelper(TOKEN, {
    pollPacing: { jobStatusMs: INTERVAL_MS, healthMs: INTERVAL_MS, answersPerSecond: 1000 },
    log: (line) => logLines.push(line),
  }));
  images = await smallJobImages();
});

afterAll(async () => {
  await helper?.close();
});

/** One client's own kept-alive connection, as an open panel has; each GET resolves with the answer and its time. */
function connection(url = helper.url) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const headers = { Authorization: bearer(TOKEN) };
  return {
    async get(path: string): Promise<{ status: number; body: string; at: number }> {
      const { status, body } = await rawRequest(url, { path, headers, agent });
      return { status, body, at: performance.now() };
    },
    async status(id: string): Promise<JobStatus & { at: number }> {
      const answer = await this.get(`/v1/jobs/${id}`);
      expect(answer.status).toBe(200);
      return { ...jobStatusSchema.parse(JSON.parse(answer.body)), at: answer.at };
    },
    close: () => agent.destroy(),
  };
}

/** A job long enough to be running through a test (canceled at its end). */
async function longJob(on = client): Promise<string> {
  const [content, style] = images;
  return on.submitOk({ content, style, options: { size: 48, iterations: 2000 } });
}

describe('poll pacing', () => {
  it('answers a connection a few times at once, then at most once per interval while only progress changes, with the progress as it is then', async () => {
    const id = await longJob();
    await client.pollUntil(id, (status) => status.status === 'running' && status.progress.iteration > 0);
    const panel = connection();
    const answers = [];
    const askedAt = performance.now();
    for (let i = 0; i < AT_ONCE + 2; i++) answers.push(await panel.status(id));
    expect(answers[AT_ONCE - 1]!.at - askedAt).toBeLessThan(INTERVAL_MS / 2);
    // (A turn's interval counts from the tick that let it go; the answers themselves go out a few ms after it.)
    for (let i = AT_ONCE; i < answers.length; i++) expect(answers[i]!.at - answers[i - 1]!.at).toBeGreaterThan(INTERVAL_MS - 100);
    expect(answers.every((answer) => answer.status === 'running')).toBe(true);
    expect(answers.at(-1)!.progress.iteration).toBeGreaterThan(answers[AT_ONCE - 1]!.progress.iteration);

    // Another connection, and another poll on the same one, are not held by this one's turn.
    const other = connection();
    const otherAskedAt = performance.now();
    expect((await other.status(id)).at - otherAskedAt).toBeLessThan(INTERVAL_MS / 2);
    const healthAskedAt = performance.now();
    expect((await panel.get('/v1/health')).at - healthAskedAt).toBeLessThan(INTERVAL_MS / 2);
    panel.close();
    other.close();
    await client.fetch(`/v1/jobs/${id}`, { method: 'DELETE' });
  });

  it('answers a waiting poll at once when its job changes phase: queued to canceled, running to canceled', async () => {
    const running = await longJob();
    const queued = await longJob();
    await client.pollUntil(running, (status) => status.status === 'running');
    const panel = connection();
    for (let i = 0; i < AT_ONCE; i++) expect((await panel.status(queued)).status).toBe('queued');
    const waiting = panel.status(queued); // held: nothing new yet
    await new Promise((resolve) => setTimeout(resolve, 200));
    const canceledAt = performance.now();
    await client.fetch(`/v1/jobs/${queued}`, { method: 'DELETE' });
    const answer = await waiting;
    expect(answer.status).toBe('canceled');
    expect(answer.at - canceledAt).toBeLessThan(INTERVAL_MS / 2);

    for (let i = 0; i < AT_ONCE; i++) expect((await panel.status(running)).status).toBe('running');
    const waitingForRunning = panel.status(running);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await client.fetch(`/v1/jobs/${running}`, { method: 'DELETE' });
    expect((await waitingForRunning).status).toBe('canceled');
    panel.close();
  });

  it('answers a waiting poll at once when its job starts, and again when it gets its first preview', async () => {
    const [content, style] = images;
    const running = await longJob();
    // At 128 px the targets and the first step take a while: the first preview comes well after the job starts.
    const id = await client.submitOk({ content, style, options: { size: 128, iterations: 50 } });
    await client.pollUntil(running, (status) => status.status === 'running');
    const panel = connection();
    for (let i = 0; i < AT_ONCE; i++) expect((await panel.status(id)).status).toBe('queued');
    const starting = panel.status(id);
    await client.fetch(`/v1/jobs/${running}`, { method: 'DELETE' });
    const started = await starting;
    expect(started.status).toBe('running');
    const seen = [started];
    while (seen.at(-1)!.preview === null && seen.length < 5) seen.push(await panel.status(id));
    const [before, withPreview] = seen.slice(-2);
    expect(seen.length).toBeGreaterThan(1);
    expect(withPreview!.preview).not.toBeNull();
    // Had it waited for its turn, the answer would have come a whole interval after the one before.
    expect(withPreview!.at - before!.at).toBeLessThan(INTERVAL_MS - 100);
    panel.close();
    await client.fetch(`/v1/jobs/${id}`, { method: 'DELETE' });
  });

  it('logs a client that leaves while its poll waits, once, and goes on answering others', async () => {
    const panel = connection();
    for (let i = 0; i < AT_ONCE; i++) await panel.get('/v1/health');
    const from = logLines.length;
    const left = panel.get('/v1/health').catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 200));
    panel.close(); // destroys the connection under the waiting poll
    expect(await left).toBeInstanceOf(Error);
    await expect.poll(() => logLines.slice(from).filter((line) => line.startsWith('GET /v1/health - client left')), { timeout: 5000 }).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS));
    expect(logLines.slice(from).filter((line) => line.startsWith('GET /v1/health'))).toHaveLength(1);
    expect((await client.health()).status).toBe('ready');
  });
});

describe('poll pacing under many connections', () => {
  it("lengthens each connection's interval so that all of them together get about the helper's budget", async () => {
    const busy = await startTestHelper(TOKEN, { pollPacing: { jobStatusMs: 200, healthMs: 200, answersPerSecond: 2 } });
    try {
      const id = await longJob(busy.client);
      await busy.client.pollUntil(id, (status) => status.status === 'running');
      const panels = Array.from({ length: 5 }, () => connection(busy.helper.url));
      const answerTimes = await Promise.all(
        panels.map(async (panel) => {
          const times = [];
          for (let i = 0; i < AT_ONCE + 2; i++) times.push((await panel.status(id)).at);
          panel.close();
          return times;
        }),
      );
      // Six connections poll (five panels and pollUntil's): at 2 answers a second together, each one's turn comes
      // about every 3 s rather than every 200 ms.
      for (const times of answerTimes) expect(times.at(-1)! - times.at(-2)!).toBeGreaterThan(2000);
      await busy.client.fetch(`/v1/jobs/${id}`, { method: 'DELETE' });
    } finally {
      await busy.helper.close();
    }
  });
});
