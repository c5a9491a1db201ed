import { type Agent, request as httpRequest } from 'node:http';
import sharp from 'sharp';
import { expect } from 'vitest';
import { bearer, errorBodySchema, healthSchema, jobStatusSchema, type Health, type JobStatus } from '../../shared/protocol.js';

/** A small test client for a running helper: real HTTP over loopback. */
export class HelperClient {
  constructor(
    readonly url: string,
    readonly token: string,
  ) {}

  fetch(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const token = init.token === undefined ? this.token : init.token;
    if (token !== null) headers.set('Authorization', bearer(token));
    if (init.body && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
    return fetch(`${this.url}${path}`, { ...init, headers });
  }

  /** The health as the paired plugin sees it (with details). */
  async health(): Promise<Health> {
    return healthSchema.parse(await (await this.fetch('/v1/health')).json());
  }

  /** The health as anyone who can reach the helper sees it. */
  async publicHealth(): Promise<Health> {
    return healthSchema.parse(await (await this.fetch('/v1/health', { token: null })).json());
  }

  async submit(body: unknown): Promise<Response> {
    return this.fetch('/v1/jobs', { method: 'POST', body: JSON.stringify(body) });
  }

  async submitOk(body: unknown): Promise<string> {
    const response = await this.submit(body);
    const answer = (await response.json()) as { id?: string };
    if (response.status !== 202 || !answer.id) throw new Error(`job refused: ${response.status} ${JSON.stringify(answer)}`);
    return answer.id;
  }

  /** Engine tensors not held by the style cache: what every job must leave as it found it. */
  async jobTensors(): Promise<number> {
    const memory = (await this.health()).details!.engineMemory!;
    return memory.tensors - memory.cachedTensors;
  }

  async status(id: string): Promise<JobStatus> {
    return jobStatusSchema.parse(await (await this.fetch(`/v1/jobs/${id}`)).json());
  }

  /** Polls until the job's state satisfies `until`, returning every status seen. */
  async pollUntil(id: string, until: (status: JobStatus) => boolean, timeoutMs = 120_000): Promise<JobStatus[]> {
    const seen: JobStatus[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.status(id);
      seen.push(status);
      if (until(status)) return seen;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${status.status} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Expects an error answer `{"error": {"code", "message"}}` with this status and code; returns its message. */
export async function expectError(response: Response, status: number, code: string, messagePattern?: RegExp): Promise<string> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/application\/json/);
  const body = errorBodySchema.parse(await response.json());
  expect(body.error.code).toBe(code);
  if (messagePattern) expect(body.error.message).toMatch(messagePattern);
  return body.error.message;
}

/**
 * A raw request with any Host header (fetch does not let a caller set Host), on `agent`'s connections when given
 * (a kept-alive connection of one client's, as the helper's poll pacing sees it).
 */
export function rawRequest(
  url: string,
  options: { method?: string; path: string; headers?: Record<string, string>; agent?: Agent },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { hostname, port, method: options.method ?? 'GET', path: options.path, headers: options.headers, agent: options.agent },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
      },
    );
    request.on('error', reject);
    request.end();
  });
}

/** A base64 PNG drawn with sharp: a diagonal two-colour pattern that gives VGG something to see. */
export async function samplePng(width: number, height: number, colours: [string, string]): Promise<string> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="${colours[0]}"/>
    <path d="M0 ${height} L${width} 0 L${width} ${height / 2} L${width / 2} ${height} Z" fill="${colours[1]}"/>
    <circle cx="${width / 3}" cy="${height / 3}" r="${Math.min(width, height) / 6}" fill="${colours[1]}"/>
  </svg>`;
  return (await sharp(Buffer.from(svg)).png().toBuffer()).toString('base64');
}
