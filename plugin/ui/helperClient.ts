import type { z } from 'zod';

import type { HttpMethod } from '../../shared/pluginMessages.js';
import {
  API_PREFIX,
  bearer,
  type CreateJobRequest,
  createJobResponseSchema,
  type ErrorCode,
  errorBodySchema,
  type Health,
  healthSchema,
  type JobStatus,
  jobStatusSchema,
  pairingResponseSchema,
} from '../../shared/protocol.js';
import type { MainThreadBridge } from './bridge.js';

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

/** One way of sending HTTP requests to the helper. */
export interface HelperTransport {
  /** direct: the panel's own fetch; relay: Figma's main-thread fetch, through messages. */
  readonly kind: 'direct' | 'relay';
  send(request: HelperRequest): Promise<HelperAnswer>;
}

const REQUEST_TIMEOUT_MS = 60_000;

function headersOf(request: HelperRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  if (request.token) headers.Authorization = bearer(request.token);
  if (request.json !== undefined) headers['Content-Type'] = 'application/json';
  return headers;
}

/** The panel's fetch: the normal way, allowed by the helper's CORS and Private Network Access answers. */
export function directTransport(helperUrl: string, fetchImpl: typeof fetch = (...args) => fetch(...args)): HelperTransport {
  const base = helperUrl.replace(/\/+$/, '');
  return {
    kind: 'direct',
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

/**
 * The fallback: the main thread sends the request with Figma's fetch, which is not subject to the iframe's rules on
 * reaching localhost. It cannot stream, which the helper's API never needs: progress is polled either way.
 */
export function relayTransport(bridge: MainThreadBridge): HelperTransport {
  return {
    kind: 'relay',
    async send(request) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new HelperUnreachableError('the helper did not answer in time')), REQUEST_TIMEOUT_MS);
      });
      const reply = await Promise.race([
        bridge.request({
          type: 'http-request',
          method: request.method,
          path: API_PREFIX + request.path,
          headers: headersOf(request),
          body: request.json === undefined ? null : JSON.stringify(request.json),
        }),
        timeout,
      ]).finally(() => clearTimeout(timer));
      if (reply.type === 'http-error') throw new HelperUnreachableError(reply.message);
      if (reply.type !== 'http-response') throw new Error(`unexpected answer from the main thread: ${reply.type}`);
      return { status: reply.status, contentType: reply.contentType, body: reply.body };
    },
  };
}

/** The helper's HTTP API v1, checked against the shared protocol schemas. */
export class HelperClient {
  private transport: HelperTransport;
  token: string | null = null;

  constructor(
    private readonly direct: HelperTransport,
    private readonly relay: HelperTransport,
  ) {
    this.transport = direct;
  }

  /** How requests currently travel. */
  get via(): 'direct' | 'relay' {
    return this.transport.kind;
  }

  /**
   * Reads the helper's health, choosing the transport on the way: the panel's fetch if it gets through, else the
   * main thread's. Throws HelperUnreachableError when neither reaches it: the helper is not running.
   */
  async connect(): Promise<Health> {
    try {
      const health = await this.healthVia(this.direct);
      this.transport = this.direct;
      return health;
    } catch (error) {
      if (!(error instanceof HelperUnreachableError)) throw error;
    }
    const health = await this.healthVia(this.relay);
    this.transport = this.relay;
    return health;
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

  async jobStatus(id: string): Promise<JobStatus> {
    return parseAnswer(await this.send({ method: 'GET', path: `/jobs/${encodeURIComponent(id)}` }), jobStatusSchema);
  }

  /** The finished job's PNG. */
  async result(id: string): Promise<Uint8Array> {
    const answer = await this.send({ method: 'GET', path: `/jobs/${encodeURIComponent(id)}/result` });
    if (answer.status !== 200) throw errorFrom(answer);
    return answer.body;
  }

  async cancel(id: string): Promise<void> {
    const answer = await this.send({ method: 'DELETE', path: `/jobs/${encodeURIComponent(id)}` });
    if (answer.status !== 200) throw errorFrom(answer);
  }

  private async healthVia(transport: HelperTransport): Promise<Health> {
    // With the token the answer includes the engine's details (backend, device, errors).
    return parseAnswer(await transport.send({ method: 'GET', path: '/health', token: this.token }), healthSchema);
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
