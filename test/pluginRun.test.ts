import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { HelperConnection } from '../plugin/ui/connection.js';
import { HelperClient, type HelperAnswer, type HelperRequest, HelperUnreachableError } from '../shared/helperClient.js';
import { RESTARTED_MESSAGE, type RunStage, StylizeRun } from '../plugin/ui/run.js';
import type { Health, JobStatus } from '../shared/protocol.js';
import { figmaNesting } from './support/figmaWindows.js';
import { notStartedProgress } from '../shared/stylizeProgress.js';

/**
 * A run's dealings with a helper that goes away, without a browser: the panel's real run, connection, client and
 * bridge, with the helper's answers scripted (the browser tests kill a real helper; here the answers that are hard
 * to time there, such as a 404 from a helper that restarted between two polls, are certain).
 */

const health = (instanceId: string): Health => ({
  name: 'gramstyle',
  version: '0.1.0',
  apiVersion: 1,
  role: 'helper',
  instanceId,
  status: 'ready',
  weights: { status: 'ready', progress: null },
  details: null,
});

const status = (state: JobStatus['status'], iteration: number): JobStatus => ({
  id: 'job-1',
  kind: 'stylize',
  status: state,
  queuePosition: null,
  progress: { ...notStartedProgress(4), iteration },
  preview: null,
  result: state === 'done' ? { width: 8, height: 8 } : null,
  error: null,
  restarts: 0,
});

type Answer = HelperAnswer | Error;
const json = (code: number, body: unknown): HelperAnswer => ({ status: code, contentType: 'application/json', body: new TextEncoder().encode(JSON.stringify(body)) });
const notFound = json(404, { error: { code: 'not-found', message: 'no job job-1' } });
const unreachable = () => new HelperUnreachableError('Failed to fetch');

/** A helper whose answers to health and to polls of the job are given in order (the last one repeats). */
function scriptedHelper(script: { health: Answer[]; polls: Answer[]; result?: Uint8Array }) {
  const requests: string[] = [];
  const next = (answers: Answer[]) => (answers.length > 1 ? answers.shift()! : answers[0]!);
  const client = new HelperClient({
    async send(request: HelperRequest) {
      requests.push(`${request.method} ${request.path}`);
      const answer =
        request.path === '/health'
          ? next(script.health)
          : request.path === '/pairing'
            ? json(200, { paired: true })
            : request.method === 'POST'
              ? json(202, { id: 'job-1' })
              : request.path === '/jobs/job-1/result'
                ? { status: 200, contentType: 'image/png', body: script.result ?? new Uint8Array() }
                : next(script.polls);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  });
  client.token = 'token';
  return { client, requests };
}

/** A run of the panel on a connected helper, with a main thread that exports and inserts at once. */
async function startRun(helper: ReturnType<typeof scriptedHelper>) {
  const { network, bridge, fromFigma } = figmaNesting();
  const notified: string[] = [];
  const png = new Uint8Array(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).png().toBuffer());
  network.onPost = (data) => {
    const message = (data as { pluginMessage: { type: string; requestId: number; message?: string } }).pluginMessage;
    if (message.type === 'export') fromFigma({ type: 'exported', requestId: message.requestId, content: png, styles: [png] });
    if (message.type === 'insert') fromFigma({ type: 'inserted', requestId: message.requestId, nodeId: '5:5', name: 'Photo × Paint' });
    if (message.type === 'notify') notified.push(message.message ?? '');
  };
  const connection = new HelperConnection(helper.client, () => undefined, () => false);
  expect((await connection.check()).kind).toBe('connected');
  const stages: RunStage[] = [];
  const frames = { contentId: '1:2', styles: [{ id: '1:3', weight: 1 }], contentName: 'Photo' };
  const settings = { strength: 50, size: 16, iterations: 4, preserveColors: 'off', styleScale: 1 } as const;
  const run = new StylizeRun('stylize', frames, settings, bridge, connection, () => {
    if (stages.at(-1) !== run.stage) stages.push(run.stage);
  });
  return { run, stages, notified, connection, finished: run.start() };
}

describe('StylizeRun when the helper goes away', () => {
  it('says the helper restarted when the job is unknown (404) to a helper with another instanceId', async () => {
    const helper = scriptedHelper({ health: [json(200, health('first')), json(200, health('second'))], polls: [json(200, status('running', 1)), notFound] });
    const { run, stages, notified, finished } = await startRun(helper);
    await finished;
    expect(run.stage).toBe('failed');
    expect(run.error).toBe(RESTARTED_MESSAGE);
    expect(notified).toEqual([`Gramstyle: ${RESTARTED_MESSAGE}`]);
    expect(stages).toEqual(['exporting', 'uploading', 'running', 'failed']);
  });

  it('says the job is gone, not that the helper restarted, when the same helper no longer knows it', async () => {
    const helper = scriptedHelper({ health: [json(200, health('first'))], polls: [notFound] });
    const { run, finished } = await startRun(helper);
    await finished;
    expect(run.error).toBe('The helper no longer has this job. Press Stylize to run it again.');
  });

  it('waits for a helper that stopped answering and goes on with the job when the same helper is back', async () => {
    const helper = scriptedHelper({
      health: [json(200, health('first')), unreachable(), json(200, health('first'))],
      polls: [json(200, status('running', 1)), unreachable(), json(200, status('done', 4))],
    });
    const { run, stages, connection, finished } = await startRun(helper);
    await finished;
    expect(stages).toEqual(['exporting', 'uploading', 'running', 'reconnecting', 'running', 'fetching', 'inserting', 'done']);
    expect(run.error).toBeNull();
    expect(run.insertedName).toBe('Photo × Paint');
    expect(connection.state.kind).toBe('connected');
  });

  it('says the helper restarted when it comes back after a gap with another instanceId', async () => {
    const helper = scriptedHelper({ health: [json(200, health('first')), unreachable(), json(200, health('second'))], polls: [unreachable()] });
    const { run, stages, finished } = await startRun(helper);
    await finished;
    expect(stages).toEqual(['exporting', 'uploading', 'reconnecting', 'failed']);
    expect(run.error).toBe(RESTARTED_MESSAGE);
  });

  it('stops waiting for the helper when the user cancels', async () => {
    const helper = scriptedHelper({ health: [json(200, health('first')), unreachable()], polls: [unreachable()] });
    const { run, finished } = await startRun(helper);
    await expect.poll(() => run.stage).toBe('reconnecting');
    await run.cancel();
    await finished;
    expect(run.stage).toBe('canceled');
    expect(run.error).toBeNull();
    expect(helper.requests.at(-1)).toBe('DELETE /jobs/job-1');
  });
});
