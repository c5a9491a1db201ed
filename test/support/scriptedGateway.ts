import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';

import type { Health, JobStatus } from '../../shared/protocol.js';
import { notStartedProgress } from '../../shared/stylizeProgress.js';

/**
 * A team gateway over real HTTP on 127.0.0.1 whose answers a test sets as it goes: its one job's status is whatever
 * `status` holds when the panel polls. For the sequences a real team cannot time (a worker that dies between two
 * polls, the stale preview the gateway serves until the next worker writes one). The real gateway is tested in
 * test/teamMode.test.ts and test/pluginTeamServer.test.ts.
 */
export class ScriptedGateway {
  static readonly JOB_ID = 'job-1';
  /** The job's status as the next poll gets it; the job appears once the panel created it. */
  status: JobStatus = jobStatus({ status: 'queued', queuePosition: 1 });
  /** Every request, as `METHOD /path?query`. */
  readonly requests: string[] = [];
  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly result: Buffer,
  ) {}

  static async start(): Promise<ScriptedGateway> {
    const result = await colouredPng(64, 48, '#2255aa');
    let gateway: ScriptedGateway | null = null;
    const server = createServer((request, response) => gateway!.answer(request, response));
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    gateway = new ScriptedGateway(server, (server.address() as AddressInfo).port, result);
    return gateway;
  }

  /** The polls of the job so far, with their queries. */
  polls(): string[] {
    return this.requests.filter((line) => line.startsWith(`GET /v1/jobs/${ScriptedGateway.JOB_ID}`) && !line.includes('/result'));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((closed) => this.server.close(() => closed()));
  }

  private answer(request: IncomingMessage, response: ServerResponse): void {
    response.setHeader('Access-Control-Allow-Origin', '*');
    if (request.method === 'OPTIONS') {
      response.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE, OPTIONS');
      response.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
      response.writeHead(204).end();
      return;
    }
    this.requests.push(`${request.method} ${request.url}`);
    request.resume();
    const path = (request.url ?? '').split('?')[0];
    const json = (code: number, body: unknown) => response.writeHead(code, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    const job = `/v1/jobs/${ScriptedGateway.JOB_ID}`;
    if (path === '/v1/health') json(200, gatewayHealth(1));
    else if (path === '/v1/pairing') json(200, { paired: true });
    else if (path === '/v1/jobs' && request.method === 'POST') json(202, { id: ScriptedGateway.JOB_ID });
    else if (path === job && request.method === 'GET') json(200, this.status);
    else if (path === job && request.method === 'DELETE') json(200, { canceled: true });
    else if (path === `${job}/result`) response.writeHead(200, { 'Content-Type': 'image/png' }).end(this.result);
    else json(404, { error: { code: 'not-found', message: `no route ${path}` } });
  }
}

/** A gateway's health for a signed-in user, with `workers` ready (starting, as a real one says, while none is). */
export function gatewayHealth(workers: number): Health {
  return {
    name: 'gramstyle',
    version: '0.1.0',
    apiVersion: 1,
    role: 'gateway',
    instanceId: 'gateway-1',
    status: workers > 0 ? 'ready' : 'starting',
    weights: { status: workers > 0 ? 'ready' : 'locating', progress: null },
    details: {
      message: null,
      backend: null,
      device: null,
      weightsPath: null,
      queueLength: 0,
      busy: false,
      engineMemory: null,
      user: 'alice',
      workers,
    },
  };
}

/** The scripted job's status: 8 iterations of 64 × 48 px, changed by `fields`. */
export function jobStatus(fields: Partial<JobStatus> & { iteration?: number }): JobStatus {
  const { iteration = 0, ...rest } = fields;
  return {
    id: ScriptedGateway.JOB_ID,
    kind: 'stylize',
    status: 'running',
    queuePosition: null,
    progress: { ...notStartedProgress(8), iteration },
    preview: null,
    result: null,
    error: null,
    restarts: 0,
    ...rest,
  };
}

/** A preview of the scripted job at `iteration`, one colour. */
export async function previewAt(iteration: number, colour: string): Promise<NonNullable<JobStatus['preview']>> {
  return { iteration, width: 64, height: 48, png: (await colouredPng(64, 48, colour)).toString('base64') };
}

function colouredPng(width: number, height: number, colour: string): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: colour } }).png().toBuffer();
}
