import { createHash } from 'node:crypto';
import type { RequestListener } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { ZodError } from 'zod';
import {
  API_PREFIX,
  createBatchRequestSchema,
  createJobRequestSchema,
  jobStatusQuerySchema,
  jobStatusSchema,
  type CreateBatchResponse,
  type CreateJobResponse,
  type Health,
  type PairingResponse,
  type JobKind,
  type WeightedStyle,
} from '../../shared/protocol.js';
import { strengthRow, strengthRowOptions } from '../../shared/strengthRow.js';
import { describeIssues, MAX_SIZE, type StylizeOptions } from '../../shared/stylizeOptions.js';
import { QueueFullError, type JobInput, type JobQueue } from '../jobs/jobQueue.js';
import { strengthRowAnswer } from '../jobs/jobResult.js';
import type { EngineJobKind } from '../jobs/workerMessages.js';
import { ImageInputError, prepareContentImage, prepareStyleImages, withStyleImages } from '../imageio/index.js';
import { type Authenticator, presentedUser } from './authentication.js';
import type { EngineStatusSource } from './engineReport.js';
import { HttpError } from './httpError.js';
import { healthAnswer, jobStatusAnswer } from './pollAnswers.js';
import type { PollPacer } from './pollPacing.js';
import { withPollShortcut } from './pollShortcut.js';
import { logRequests } from './requestLog.js';
import { allowCors, limitDeclaredBody, requireKnownHost, requireUser, userOf } from './security.js';

export interface AppContext {
  /** helper: `gramstyle serve`; gateway: `gramstyle gateway` (see healthSchema). */
  readonly role: Health['role'];
  readonly version: string;
  /** New for every start of the server (see healthSchema). */
  readonly instanceId: string;
  /** The Host headers a request may carry: the loopback names with our port, and a gateway's public name. */
  readonly allowedHosts: readonly string[];
  readonly authenticator: Authenticator;
  readonly engine: EngineStatusSource;
  readonly queue: JobQueue;
  readonly bodyLimitBytes: number;
  readonly log: (line: string) => void;
  /** An error of what the server depends on, as the answer it gives (a gateway's Redis being away is a 503). */
  readonly answerFor?: (error: unknown) => HttpError | null;
  /**
   * Paces a connection's repeated polls (pollPacing.ts): the helper's, whose engine shares the machine with the
   * clients that poll it. A gateway's workers run elsewhere, and its clients' polls cost its workers nothing.
   */
  readonly pollPacer?: PollPacer;
}

/** Input images larger than this on their long side are refused (the output is at most MAX_SIZE anyway). */
export const MAX_INPUT_LONG_SIDE = MAX_SIZE;

/**
 * The HTTP API, the same for the helper and the gateway. Thin on purpose: it validates with the shared schemas,
 * translates to the job queue and back, and turns every failure into `{"error": {"code", "message"}}` with the right
 * status.
 *
 * Each request costs only as much as its sender has earned: the Host check, CORS preflights and health come first
 * and read nothing but headers; everything else needs a user's token before its body's declared size is checked, and
 * the body is read and parsed only after that, by the routes that take a body. Polls that will succeed (health, a
 * job's status) are answered before express, with the same answers (pollShortcut.ts).
 */
export function createApp(context: AppContext): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use(logRequests(context.log));
  app.use(requireKnownHost(context.allowedHosts));
  app.use(allowCors);

  const api = express.Router();

  api.get('/health', async (request, response) => {
    response.json(await healthAnswer(context, await presentedUser(request, context.authenticator)));
  });

  api.use(requireUser(context.authenticator));
  api.use(limitDeclaredBody(context.bodyLimitBytes));

  api.get('/pairing', (_request, response) => {
    const answer: PairingResponse = { paired: true };
    response.json(answer);
  });

  // No inflating: a compressed body is refused (415) rather than expanded up to the limit.
  const jsonBody = express.json({ limit: context.bodyLimitBytes, inflate: false });

  api.post('/jobs', jsonBody, async (request, response) => {
    const parsed = createJobRequestSchema.safeParse(request.body);
    if (!parsed.success) throw invalidRequest('job', parsed.error);
    const { content, ...settings } = parsed.data;
    const [id] = await queueJobs(context, response, [content], settings);
    if (id === undefined) return;
    const answer: CreateJobResponse = { id };
    response.status(202).location(`${API_PREFIX}/jobs/${id}`).json(answer);
  });

  api.post('/batches', jsonBody, async (request, response) => {
    const parsed = createBatchRequestSchema.safeParse(request.body);
    if (!parsed.success) throw invalidRequest('batch', parsed.error);
    const { contents, ...settings } = parsed.data;
    const jobs = await queueJobs(context, response, contents, { kind: 'stylize', ...settings });
    if (jobs.length === 0) return;
    const answer: CreateBatchResponse = { jobs };
    response.status(202).json(answer);
  });

  api.get('/jobs/:id', async (request, response) => {
    const query = jobStatusQuerySchema.safeParse(request.query);
    if (!query.success) throw new HttpError(400, 'bad-request', `invalid query: ${describeIssues(query.error).join('; ')}`);
    const status = await jobStatusAnswer(context, userOf(response), request.params.id, query.data.previewAfter);
    if (!status) throw unknownJob(request.params.id);
    response.json(status);
  });

  api.get('/jobs/:id/result', async (request, response) => {
    const user = userOf(response);
    const result = await context.queue.result(user, request.params.id);
    if (result === undefined) throw unknownJob(request.params.id);
    if (result === null) {
      const status = await context.queue.status(user, request.params.id);
      throw new HttpError(409, 'not-finished', `job ${request.params.id} has no result: it is ${status?.status ?? 'gone'}`);
    }
    if (result.kind === 'stylize') {
      response.type('png').send(result.png);
      return;
    }
    response.json(strengthRowAnswer(result));
  });

  api.delete('/jobs/:id', async (request, response) => {
    const user = userOf(response);
    if (!(await context.queue.cancel(user, request.params.id))) throw unknownJob(request.params.id);
    response.json(jobStatusSchema.parse(await context.queue.status(user, request.params.id)));
  });

  app.use(API_PREFIX, api);
  app.use((request) => {
    throw new HttpError(404, 'not-found', `no such endpoint: ${request.method} ${request.path}`);
  });
  app.use(sendError(context));
  return withPollShortcut(context, app);
}

/** What the jobs of a request share: their kind, the style images with their weights, and the options. */
interface JobSettings {
  readonly kind: JobKind;
  readonly styles: readonly WeightedStyle[];
  readonly options: StylizeOptions;
}

/**
 * Queues one job per content image, all with the same settings, for the request's user; returns their ids, or none
 * when the client left before it could learn them (then nothing is queued: it could cancel nothing).
 */

async function queueJobs(context: AppContext, response: Response, contents: readonly string[], settings: JobSettings): Promise<string[]> {
  const engine = await context.engine.report();
  if (engine.status === 'error') {
    throw new HttpError(503, 'not-ready', `the ${context.role} could not start: ${engine.message}`);
  }
  const user = userOf(response);
  // Before any image is decoded: a full queue costs nothing more than this answer.
  const places = await context.queue.reserve(user, contents.length);
  try {
    const { kind, styles, options } = settings;
    // A strength row renders small previews: its images are prepared at the row's size.
    const jobOptions = kind === 'strength-row' ? strengthRowOptions(options) : options;
    const jobKind: EngineJobKind = kind === 'strength-row' ? { kind, strengths: strengthRow(options.strength) } : { kind };
    const styleBytes = styles.map((style) => Buffer.from(style.image, 'base64'));
    const styleKeys = styleBytes.map((bytes) => createHash('sha256').update(bytes).digest('hex'));
    const limits = { maxLongSide: MAX_INPUT_LONG_SIDE };
    // Decoded and scaled once for all the contents: a batch's jobs share their style images.
    const styleImages = prepareStyleImages(styleBytes, jobOptions, limits);
    styleImages.catch(() => {}); // answered below, with the first content (whose own error comes first)
    const inputs: JobInput[] = [];
    for (const [index, content] of contents.entries()) {
      const contentImage = prepareContentImage(Buffer.from(content, 'base64'), jobOptions, limits).catch((error: unknown) => {
        throw error instanceof ImageInputError && contents.length > 1 ? new ImageInputError(`contents[${index}]: ${error.message}`) : error;
      });
      const images = await withStyleImages(contentImage, styleImages).catch((error: unknown) => {
        if (!(error instanceof ImageInputError)) throw error;
        throw new HttpError(400, 'invalid-image', error.message);
      });
      const weighted = images.styles.map((image, style) => ({ image, weight: styles[style]!.weight, key: styleKeys[style]! }));
      inputs.push({ ...jobKind, content: images.content, styles: weighted, options: jobOptions });
    }
    // A client that hung up would never learn the jobs' ids, so could not cancel them: its jobs are not run.
    if (response.destroyed) {
      context.log(`${contents.length > 1 ? 'a batch was' : 'a job was'} not queued: its client left before it got the id`);
      return [];
    }
    const ids = await places.submit(inputs);
    response.once('close', () => {
      if (response.writableFinished) return;
      context.log(`${ids.length > 1 ? `jobs ${ids.join(', ')}` : `job ${ids[0]}`} canceled: the client left before it got the id`);
      for (const id of ids) void context.queue.cancel(user, id);
    });
    return ids;
  } finally {
    places.release();
  }
}

function invalidRequest(what: 'job' | 'batch', error: ZodError): HttpError {
  const onlyOptions = error.issues.every((issue) => issue.path[0] === 'options');
  return new HttpError(400, onlyOptions ? 'invalid-options' : 'bad-request', `invalid ${what}: ${describeIssues(error).join('; ')}`);
}

function unknownJob(id: string): HttpError {
  return new HttpError(404, 'not-found', `no job ${id} (finished jobs are kept for a while, then forgotten)`);
}

/** The last middleware: every error becomes a JSON error body; nothing takes the helper down. */
function sendError({ log, answerFor, role }: Pick<AppContext, 'log' | 'answerFor' | 'role'>) {
  return (error: unknown, request: Request, response: Response, _next: NextFunction): void => {
    const httpError = answerFor?.(error) ?? toHttpError(error, role);
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

function toHttpError(error: unknown, role: AppContext['role']): HttpError {
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
  return new HttpError(500, 'internal', `internal error in the ${role} (see its log)`);
}
