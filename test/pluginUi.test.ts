import { describe, expect, it } from 'vitest';

import {
  HelperClient,
  type HelperAnswer,
  HelperError,
  type HelperRequest,
  type HelperTransport,
  HelperUnreachableError,
} from '../shared/helperClient.js';
import { bytesToBase64, formatDimensions, formatEta } from '../plugin/ui/format.js';
import type { Health } from '../shared/protocol.js';

/** The panel's helper client without a browser: transports are scripted, answers are what the helper sends. */

const health: Health = {
  name: 'gramstyle',
  version: '0.1.0',
  apiVersion: 1,
  role: 'helper',
  instanceId: 'instance-1',
  status: 'ready',
  weights: { status: 'ready', progress: null },
  details: {
    message: null,
    backend: 'wasm',
    device: 'CPU (WebAssembly SIMD, 2 threads)',
    weightsPath: '/weights.h5',
    queueLength: 0,
    busy: false,
    engineMemory: null,
    user: null,
    workers: null,
  },
};

function json(status: number, body: unknown): HelperAnswer {
  return { status, contentType: 'application/json', body: new TextEncoder().encode(JSON.stringify(body)) };
}

function transport(answer: (request: HelperRequest) => HelperAnswer | Error) {
  const requests: HelperRequest[] = [];
  const scripted: HelperTransport = {
    async send(request) {
      requests.push(request);
      const result = answer(request);
      if (result instanceof Error) throw result;
      return result;
    },
  };
  return { transport: scripted, requests };
}

const unreachable = () => new HelperUnreachableError('Failed to fetch');

describe('HelperClient', () => {
  it('reads the health with the token, so that the answer includes the engine’s details', async () => {
    const scripted = transport(() => json(200, health));
    const client = new HelperClient(scripted.transport);
    client.token = 'secret';
    expect(await client.health()).toEqual(health);
    expect(scripted.requests).toEqual([{ method: 'GET', path: '/health', token: 'secret' }]);
  });

  it('reports the helper as unreachable when the request does not get there', async () => {
    const client = new HelperClient(transport(unreachable).transport);
    await expect(client.health()).rejects.toBeInstanceOf(HelperUnreachableError);
  });

  it('tells an accepted token from a refused one (401)', async () => {
    const direct = transport((request) =>
      request.token === 'right'
        ? json(200, { paired: true })
        : json(401, { error: { code: 'unauthorized', message: 'wrong pairing token' } }),
    );
    const client = new HelperClient(direct.transport);
    expect(await client.tokenAccepted('right')).toBe(true);
    expect(await client.tokenAccepted('wrong')).toBe(false);
    expect(direct.requests.map((request) => [request.method, request.path])).toEqual([
      ['GET', '/pairing'],
      ['GET', '/pairing'],
    ]);
  });

  it('turns error bodies into HelperErrors with the helper’s code and words, and rejects answers it cannot read', async () => {
    const answers: HelperAnswer[] = [
      json(429, { error: { code: 'queue-full', message: 'the queue is full (8 jobs)' } }),
      json(200, { id: 'job-1', status: 'exploded' }),
      { status: 502, contentType: 'text/html', body: new TextEncoder().encode('<h1>Bad gateway</h1>') },
    ];
    const client = new HelperClient(transport(() => answers.shift()!).transport);
    await expect(client.createJob({ content: 'A', style: 'B' })).rejects.toMatchObject({ status: 429, code: 'queue-full', message: 'the queue is full (8 jobs)' });
    await expect(client.jobStatus('job-1')).rejects.toMatchObject({ code: 'unexpected-answer' });
    const error = await client.result('job-1').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HelperError);
    expect(error).toMatchObject({ status: 502, message: 'The helper answered HTTP 502.' });
  });
});

describe('the panel’s helper client: strength rows', () => {
  it('reads a strength row’s previews, and refuses an answer that is not one', async () => {
    const previews = [35, 45, 55, 65].map((strength) => ({ strength, width: 128, height: 96, png: 'iVBORw0KGgo=' }));
    const answers = [json(200, { previews }), json(200, { previews: previews.slice(1) })];
    const scripted = transport(() => answers.shift()!);
    const client = new HelperClient(scripted.transport);
    expect(await client.strengthRow('job-1')).toEqual({ previews });
    await expect(client.strengthRow('job-1')).rejects.toMatchObject({ code: 'unexpected-answer' });
    expect(scripted.requests.map((request) => [request.method, request.path])).toEqual([
      ['GET', '/jobs/job-1/result'],
      ['GET', '/jobs/job-1/result'],
    ]);
  });
});

describe('panel formatting', () => {
  it('words the time left', () => {
    expect(formatEta(null)).toBe('estimating time left…');
    expect(formatEta(400)).toBe('about 1 s left');
    expect(formatEta(42_000)).toBe('about 42 s left');
    expect(formatEta(150_000)).toBe('about 3 min left');
    expect(formatEta(3_900_000)).toBe('about 1 h 5 min left');
  });

  it('rounds sizes and encodes large byte arrays as base64', () => {
    expect(formatDimensions(1199.6, 800.2)).toBe('1200 × 800');
    const bytes = new Uint8Array(200_000).map((_, index) => index % 251);
    expect(bytesToBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
  });
});
