import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { API_PREFIX } from '../../shared/protocol.js';
import type { AppContext } from './app.js';
import { presentedUser, type User } from './authentication.js';
import { healthAnswer, jobStatusAnswer } from './pollAnswers.js';
import type { PollKind, PollPhase } from './pollPacing.js';
import { logWhenClosed } from './requestLog.js';
import { knownHostCheck } from './security.js';

const HEALTH_URL = `${API_PREFIX}/health`;
/** A job's status, with no query or with previewAfter alone: what the panel and the CLI ask many times a second. */
const JOB_STATUS_URL = new RegExp(`^${API_PREFIX}/jobs/([0-9A-Za-z-]{1,64})(?:\\?previewAfter=(\\d{1,9}))?$`);

/** What a poll asks for: health, or one job's status (the key under which polls are paced). */
interface Poll {
  readonly kind: PollKind;
  readonly key: string;
  /** Its phase now (cheap: no answer is built), or undefined when the user has no such job. */
  phase(user: User | null): Promise<PollPhase | undefined>;
  /** The answer now, or undefined when the full app should answer (no such job of this user's). */
  answer(user: User | null): Promise<object | undefined>;
}

/**
 * Open panels poll health and their job's status many times a second, on the thread that also feeds the engine.
 * Through express each such answer cost about 300 µs of CPU on a 2-core VM (routing, middleware, response helpers),
 * which a running job felt. Well-formed polls that will succeed are answered here with the same answer (pollAnswers.ts),
 * headers and log line; everything else — another route, a wrong Host, a missing or wrong token, an unknown job, an
 * odd query, a body, a failure — is handed to the full app, which answers it as it always has. Only reads take this
 * way, so handing a request over after looking at it changes nothing. Where the context has a pacer (the helper),
 * a connection's repeated polls wait for their turn (pollPacing.ts).
 */
export function withPollShortcut(context: AppContext, fullApp: RequestListener): RequestListener {
  const isKnownHost = knownHostCheck(context.allowedHosts);
  return (request, response) => {
    const url = request.url ?? '';
    const poll = url === HEALTH_URL ? healthPoll(context) : jobStatusPoll(context, JOB_STATUS_URL.exec(url));
    const plainGet =
      request.method === 'GET' &&
      request.headers['transfer-encoding'] === undefined &&
      (request.headers['content-length'] ?? '0') === '0' &&
      isKnownHost(request.headers.host);
    if (!plainGet || poll === null) {
      fullApp(request, response);
      return;
    }
    const startedAt = performance.now();
    answerPoll(context, request, response, poll, startedAt).then(
      (answered) => {
        if (!answered) fullApp(request, response);
      },
      () => fullApp(request, response),
    );
  };
}

function healthPoll(context: AppContext): Poll {
  return {
    kind: 'health',
    key: 'health',
    phase: async () => {
      const { status, weights } = await context.engine.report();
      // A download's progress in steps of 5 %: the panel shows it while the helper starts.
      return `${status}, weights ${weights.status} ${Math.floor((weights.progress ?? 0) * 20)}`;
    },
    answer: (user) => healthAnswer(context, user),
  };
}

function jobStatusPoll(context: AppContext, match: RegExpExecArray | null): Poll | null {
  if (match === null) return null;
  const id = match[1]!;
  const previewAfter = match[2] === undefined ? undefined : Number(match[2]);
  return {
    kind: 'job status',
    key: `job ${id}`,
    phase: async (user) => {
      const status = user === null ? undefined : await context.queue.status(user, id);
      // The first preview is news too: a designer waits for it.
      return status && `${status.status}${status.preview === null ? '' : ', with a preview'}`;
    },
    answer: async (user) => (user === null ? undefined : jobStatusAnswer(context, user, id, previewAfter)),
  };
}

/** Answers the poll once it is its turn; false when the full app should answer instead (nothing was sent). */
async function answerPoll(context: AppContext, request: IncomingMessage, response: ServerResponse, poll: Poll, startedAt: number): Promise<boolean> {
  let user = await presentedUser(request, context.authenticator);
  const { pollPacer } = context;
  if (pollPacer === undefined) return send(context, request, response, await poll.answer(user), startedAt);
  const phase = await poll.phase(user);
  if (phase === undefined) return false;
  logWhenClosed(context.log, request, response, startedAt); // also when the client leaves while it waits
  const { socket } = request;
  const waited = await pollPacer.turn(socket, poll.kind, poll.key, phase, () => poll.phase(user));
  if (waited) {
    if (socket.destroyed) return true; // the client left: its log line says so, nobody is left to answer
    user = await presentedUser(request, context.authenticator); // the token may have been replaced meanwhile
  }
  const answer = await poll.answer(user);
  // The phase the answer shows: looked up again only after a wait (the job or the engine may have moved on).
  if (answer !== undefined) pollPacer.answered(socket, poll.key, waited ? ((await poll.phase(user)) ?? phase) : phase);
  return send(context, request, response, answer, startedAt);
}

/** Sends the answer; false (nothing sent) when there is none. */
function send(context: AppContext, request: IncomingMessage, response: ServerResponse, answer: object | undefined, startedAt: number): boolean {
  if (answer === undefined) return false;
  logWhenClosed(context.log, request, response, startedAt);
  const body = JSON.stringify(answer);
  response.writeHead(200, {
    'Access-Control-Allow-Origin': '*',
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(body);
  return true;
}
