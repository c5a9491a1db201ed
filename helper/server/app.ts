import { createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  API_PREFIX,
  createJobRequestSchema,
  healthSchema,
  jobStatusQuerySchema,
  jobStatusSchema,
  strengthRowResultSchema,
  type CreateJobResponse,
  type Health,
  type PairingResponse,
  type StrengthRowResult,
} from '../../shared/protocol.js';
import { strengthRow, strengthRowOptions } from '../../shared/strengthRow.js';
import { describeIssues, MAX_SIZE } from '../../shared/stylizeOptions.js';
import type { EngineHost } from '../jobs/engineHost.js';
import { QueueFullError, type JobInput, type JobQueue } from '../jobs/jobQueue.js';
import { ImageInputError, prepareStylizeImages } from '../imageio/index.js';
import { HttpError } from './httpError.js';
import { logRequests } from './requestLog.js';
import { allowCors, limitDeclaredBody, presentsPairingToken, requireLocalHost, requirePairingToken } from './security.js';

export interface AppContext {
  readonly version: string;
  /** The current pairing token. */
  readonly token: () => string;
  /** New for every start of the helper (see healthSchema). */
  readonly instanceId: string;
  /** The port the helper listens on: the only one a Host header may name. */
  readonly port: number;
  readonly engine: EngineHost;
  readonly queue: JobQueue;
  readonly bodyLimitBytes: number;
  readonly log: (line: string) => void;
}

/** Input images larger than this on their long side are refused (the output is at most MAX_SIZE anyway). */
export const MAX_INPUT_LONG_SIDE = MAX_SIZE;

/**
 * The HTTP API. Thin on purpose: it validates with the shared schemas, translates to the job queue and back, and
 * turns every failure into `{"error": {"code", "message"}}` with the right status.
 *
 * Each request costs only as much as its sender has earned: the Host check, CORS preflights and health come first
 * and read nothing but headers; everything else needs the token before its body's declared size is checked, and the
 * body is read and parsed only after that, by the one route that takes a body.
 */
export function createApp(context: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use(logRequests(context.log));
  app.use(requireLocalHost(context.port));
  app.use(allowCors);

  const api = express.Router();

  api.get('/health', (request, response) => {
    const { status, message, backend, device } = context.engine.status;
    const weights = context.engine.weights;
    const health: Health = {
      name: 'gramstyle',
      version: context.version,
      apiVersion: 1,
      instanceId: context.instanceId,
      status,
      weights: { status: weights.status, progress: weights.progress },
      details: presentsPairingToken(request, context.token)
        ? {
            message,
            backend,
            device,
            weightsPath: weights.path,
            queueLength: context.queue.length,
            busy: context.queue.busy,
            engineMemory: context.engine.memory,
          }
        : null,
    };
    response.json(healthSchema.parse(health));
  });

  api.use(requirePairingToken(context.token));
  api.use(limitDeclaredBody(context.bodyLimitBytes));

  api.get('/pairing', (_request, response) => {
    const answer: PairingResponse = { paired: true };
    response.json(answer);
  });

  // No inflating: a compressed body is refused (415) rather than expanded up to the limit.
  api.post('/jobs', express.json({ limit: context.bodyLimitBytes, inflate: false }), async (request, response) => {
    const parsed = createJobRequestSchema.safeParse(request.body);
    if (!parsed.success) {
      const onlyOptions = parsed.error.issues.every((issue) => issue.path[0] === 'options');
      throw new HttpError(
        400,
        onlyOptions ? 'invalid-options' : 'bad-request',
        `invalid job: ${describeIssues(parsed.error).join('; ')}`,
      );
    }
    if (context.engine.status.status === 'error') {
      throw new HttpError(503, 'not-ready', `the helper could not start: ${context.engine.status.message}`);
    }
    const { kind, content, styles, options } = parsed.data;
    // Before any image is decoded: a full queue costs nothing more than this answer.
    const place = context.queue.reserve();
    try {
      // A strength row renders small previews: its images are prepared at the row's size.
      const jobOptions = kind === 'strength-row' ? strengthRowOptions(options) : options;
      const contentBytes = Buffer.from(content, 'base64');
      const styleBytes = styles.map((style) => Buffer.from(style.image, 'base64'));
      const limits = { maxLongSide: MAX_INPUT_LONG_SIDE };
      const images = await prepareStylizeImages(contentBytes, styleBytes, jobOptions, limits).catch((error: unknown) => {
        throw error instanceof ImageInputError ? new HttpError(400, 'invalid-image', error.message) : error;
      });
      const job = {
        content: images.content,
        styles: images.styles.map((image, index) => ({
          image,
          weight: styles[index]!.weight,
          key: createHash('sha256').update(styleBytes[index]!).digest('hex'),
        })),
        options: jobOptions,
      };
      const input: JobInput =
        kind === 'strength-row' ? { kind, strengths: strengthRow(options.strength), ...job } : { kind, ...job };
      // A client that hung up would never learn the job's id, so could not cancel it: its job is not run.
      if (response.destroyed) {
        context.log('a job was not queued: its client left before it got the id');
        return;
      }
      const id = place.submit(input);
      response.once('close', () => {
        if (response.writableFinished) return;
        context.log(`job ${id} canceled: its client left before it got the id`);
        context.queue.cancel(id);
      });
      const answer: CreateJobResponse = { id };
      response.status(202).location(`${API_PREFIX}/jobs/${id}`).json(answer);
    } finally {
      place.release();
    }
  });

  api.get('/jobs/:id', (request, response) => {
    const query = jobStatusQuerySchema.safeParse(request.query);
    if (!query.success) throw new HttpError(400, 'bad-request', `invalid query: ${describeIssues(query.error).join('; ')}`);
    const status = context.queue.status(request.params.id, query.data.previewAfter);
    if (!status) throw unknownJob(request.params.id);
    response.json(jobStatusSchema.parse(status));
  });

  api.get('/jobs/:id/result', (request, response) => {
    const status = context.queue.status(request.params.id);
    if (!status) throw unknownJob(request.params.id);
    const result = context.queue.result(request.params.id);
    if (!result) {
      throw new HttpError(409, 'not-finished', `job ${request.params.id} has no result: it is ${status.status}`);
    }
    if (result.kind === 'stylize') {
      response.type('png').send(result.png);
      return;
    }
    const previews = result.previews.map(({ png, ...preview }) => ({ ...preview, png: png.toString('base64') }));
    const answer: StrengthRowResult = { previews };
    response.json(strengthRowResultSchema.parse(answer));
  });

  api.delete('/jobs/:id', (request, response) => {
    if (!context.queue.cancel(request.params.id)) throw unknownJob(request.params.id);
    response.json(jobStatusSchema.parse(context.queue.status(request.params.id)));
  });

  app.use(API_PREFIX, api);
  app.use((request) => {
    throw new HttpError(404, 'not-found', `no such endpoint: ${request.method} ${request.path}`);
  });
  app.use(sendError(context.log));
  return app;
}

function unknownJob(id: string): HttpError {
  return new HttpError(404, 'not-found', `no job ${id} (finished jobs are kept for a while, then forgotten)`);
}

/** The last middleware: every error becomes a JSON error body; nothing takes the helper down. */
function sendError(log: (line: string) => void) {
  return (error: unknown, request: Request, response: Response, _next: NextFunction): void => {
    const httpError = toHttpError(error);
    if (httpError.status >= 500) log(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    if (response.headersSent) {
      response.end();
      return;
    }
    if (hasUnreadBody(request)) {
      // Hanging up is what stops the sender: to keep the connection, Node would read (and drop) all the rest first.
      response.setHeader('Connection', 'close');
    }
    response.status(httpError.status).json(httpError.body);
  };
}

/** Whether the request came with a body that has not (all) been read: refused before its body was wanted. */
function hasUnreadBody(request: Request): boolean {
  const declaresBody = request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
  return declaresBody && !request.complete;
}

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof QueueFullError) return new HttpError(429, 'queue-full', error.message);
  // body-parser's errors carry a type and status.
  const bodyError = error as { type?: string; status?: number; limit?: number; encoding?: string; message?: string };
  if (bodyError.type === 'entity.too.large') {
    return new HttpError(413, 'payload-too-large', `request body too large (at most ${bodyError.limit} bytes)`);
  }
  if (bodyError.type === 'encoding.unsupported') {
    return new HttpError(415, 'bad-request', `content encoding "${bodyError.encoding}" is not taken: send the JSON as it is`);
  }
  if (bodyError.type === 'entity.parse.failed') {
    return new HttpError(400, 'bad-request', `request body is not valid JSON: ${bodyError.message}`);
  }
  if (typeof bodyError.status === 'number' && bodyError.status >= 400 && bodyError.status < 500) {
    return new HttpError(bodyError.status, 'bad-request', bodyError.message ?? 'bad request');
  }
  return new HttpError(500, 'internal', 'internal error in the helper (see its log)');
}
