/**
 * The client of the HTTP API v1, of a helper or a gateway alike (the same routes): the plugin's panel and
 * `gramstyle batch` use it. Only fetch and the shared schemas: it runs in the browser and in Node.
 */
import type { z } from 'zod';

import {
  API_PREFIX,
  bearer,
  type CreateBatchRequest,
  createBatchResponseSchema,
  type CreateJobRequest,
  createJobResponseSchema,
  type ErrorCode,
  errorBodySchema,
  type Health,
  healthSchema,
  type JobStatus,
  jobStatusSchema,
  pairingResponseSchema,
  type StrengthRowResult,
  strengthRowResultSchema,
} from './protocol.js';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

/** The helper could not be reached at all: not running, or the request was blocked before it got there. */
export class HelperUnreachableError extends Error {}

/** The helper answered with an error (`{"error": {"code", "message"}}`) or with something unexpected. */
export class HelperError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'unexpected-answer',
    message: string,
  ) {
    super(message);
  }
}

export interface HelperRequest {
  readonly method: HttpMethod;
  /** Below the API prefix, e.g. `/jobs`. */
  readonly path: string;
  readonly token?: string | null;
  readonly json?: unknown;
}

export interface HelperAnswer {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: Uint8Array;
}

/** How requests reach the helper or gateway: fetch (the panel's, the CLI's), or a script in tests. */
export interface HelperTransport {
  send(request: HelperRequest): Promise<HelperAnswer>;
}

const REQUEST_TIMEOUT_MS = 60_000;

function headersOf(request: HelperRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  if (request.token) headers.Authorization = bearer(request.token);
  if (request.json !== undefined) headers['Content-Type'] = 'application/json';
  return headers;
}

/**
 * The panel's fetch, allowed by the helper's CORS answer. Figma's main-thread fetch is no way around a browser that
 * refuses localhost: Figma carries it out in another `null`-origin iframe of the same page, under the same rules.
 */
export function fetchTransport(helperUrl: string, fetchImpl: typeof fetch = (...args) => fetch(...args)): HelperTransport {
  const base = helperUrl.replace(/\/+$/, '');
  return {
    async send(request) {
      let response: Response;
      try {
        response = await fetchImpl(base + API_PREFIX + request.path, {
          method: request.method,
          headers: headersOf(request),
          body: request.json === undefined ? null : JSON.stringify(request.json),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } catch (error) {
        // fetch rejects with the same TypeError whether nothing listens or the browser refused to ask.
        throw new HelperUnreachableError(error instanceof Error ? error.message : String(error));
      }
      return {
        status: response.status,
        contentType: response.headers.get('content-type'),
        body: new Uint8Array(await response.arrayBuffer()),
      };
    },
  };
}

/** The helper's HTTP API v1, checked against the shared protocol schemas. */
export class HelperClient {
  token: string | null = null;

  constructor(private readonly transport: HelperTransport) {}

  /** The helper's health; with the token it includes the engine's details (backend, device, errors). */
  async health(): Promise<Health> {
    return parseAnswer(await this.send({ method: 'GET', path: '/health' }), healthSchema);
  }

  /** Whether the helper accepts `token` (without starting anything). */
  async tokenAccepted(token: string): Promise<boolean> {
    const answer = await this.transport.send({ method: 'GET', path: '/pairing', token });
    if (answer.status === 401) return false;
    parseAnswer(answer, pairingResponseSchema);
    return true;
  }

  async createJob(request: CreateJobRequest): Promise<string> {
    const answer = await this.send({ method: 'POST', path: '/jobs', json: request });
    return parseAnswer(answer, createJobResponseSchema).id;
  }

  /** Queues one job per content image; returns their ids in the same order. */
  async createBatch(request: CreateBatchRequest): Promise<string[]> {
    const answer = await this.send({ method: 'POST', path: '/batches', json: request });
    return parseAnswer(answer, createBatchResponseSchema).jobs;
  }

  /**
   * The job's state. With `previewAfter` (the iteration of the preview the panel shows) the helper sends a preview
   * only when it has a newer one; a helper that ignores the parameter sends its latest every time, which works too.
   */
  async jobStatus(id: string, previewAfter: number | null = null): Promise<JobStatus> {
    const query = previewAfter === null ? '' : `?previewAfter=${previewAfter}`;
    return parseAnswer(await this.send({ method: 'GET', path: `/jobs/${encodeURIComponent(id)}${query}` }), jobStatusSchema);
  }

  /** The finished stylize job's PNG. */
  async result(id: string): Promise<Uint8Array> {
    const answer = await this.send({ method: 'GET', path: `/jobs/${encodeURIComponent(id)}/result` });
    if (answer.status !== 200) throw errorFrom(answer);
    return answer.body;
  }

  /** The finished strength-row job's previews. */
  async strengthRow(id: string): Promise<StrengthRowResult> {
    return parseAnswer(await this.send({ method: 'GET', path: `/jobs/${encodeURIComponent(id)}/result` }), strengthRowResultSchema);
  }

  async cancel(id: string): Promise<void> {
    const answer = await this.send({ method: 'DELETE', path: `/jobs/${encodeURIComponent(id)}` });
    if (answer.status !== 200) throw errorFrom(answer);
  }

  private send(request: Omit<HelperRequest, 'token'>): Promise<HelperAnswer> {
    return this.transport.send({ ...request, token: this.token });
  }
}

function parseAnswer<S extends z.ZodType>(answer: HelperAnswer, schema: S): z.output<S> {
  if (answer.status < 200 || answer.status > 299) throw errorFrom(answer);
  const parsed = schema.safeParse(jsonOf(answer));
  if (!parsed.success) {
    throw new HelperError(answer.status, 'unexpected-answer', 'The helper answered in a way this plugin does not understand. Update both to the same version.');
  }
  return parsed.data;
}

function errorFrom(answer: HelperAnswer): HelperError {
  const parsed = errorBodySchema.safeParse(jsonOf(answer));
  if (parsed.success) return new HelperError(answer.status, parsed.data.error.code, parsed.data.error.message);
  return new HelperError(answer.status, 'unexpected-answer', `The helper answered HTTP ${answer.status}.`);
}

function jsonOf(answer: HelperAnswer): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(answer.body));
  } catch {
    return undefined;
  }
}
