import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { API_PREFIX } from '../../shared/protocol.js';
import type { AppContext } from './app.js';
import { bearerToken } from './authentication.js';
import { healthAnswer, jobStatusAnswer } from './pollAnswers.js';
import { logWhenClosed } from './requestLog.js';
import { knownHostCheck } from './security.js';

const HEALTH_URL = `${API_PREFIX}/health`;
/** A job's status, with no query or with previewAfter alone: what the panel and the CLI ask many times a second. */
const JOB_STATUS_URL = new RegExp(`^${API_PREFIX}/jobs/([0-9A-Za-z-]{1,64})(?:\\?previewAfter=(\\d{1,9}))?$`);

/**
 * Open panels poll health and their job's status many times a second, on the thread that also feeds the engine.
 * Through express each such answer cost about 300 µs of CPU on a 2-core VM (routing, middleware, response helpers),
 * which a running job felt. Well-formed polls that will succeed are answered here with the same answer (pollAnswers.ts),
 * headers and log line; everything else — another route, a wrong Host, a missing or wrong token, an unknown job, an
 * odd query, a body, a failure — is handed to the full app, which answers it as it always has. Only reads take this
 * way, so handing a request over after looking at it changes nothing.
 */
export function withPollShortcut(context: AppContext, fullApp: RequestListener): RequestListener {
  const isKnownHost = knownHostCheck(context.allowedHosts);
  return (request, response) => {
    const url = request.url ?? '';
    const jobMatch = url === HEALTH_URL ? null : JOB_STATUS_URL.exec(url);
    const plainGet =
      request.method === 'GET' &&
      request.headers['transfer-encoding'] === undefined &&
      (request.headers['content-length'] ?? '0') === '0' &&
      isKnownHost(request.headers.host);
    if (!plainGet || (url !== HEALTH_URL && jobMatch === null)) {
      fullApp(request, response);
      return;
    }
    const startedAt = performance.now();
    answerPoll(context, request, jobMatch).then(
      (answer) => {
        if (answer === undefined) fullApp(request, response);
        else send(context, request, response, answer, startedAt);
      },
      () => fullApp(request, response),
    );
  };
}

/** The poll's answer, or undefined when the full app should answer (no user for a status, or no such job). */
async function answerPoll(context: AppContext, request: IncomingMessage, jobMatch: RegExpExecArray | null): Promise<object | undefined> {
  const token = bearerToken(request);
  const user = token === null ? null : await context.authenticator.userFor(token);
  if (jobMatch === null) return healthAnswer(context, user);
  if (user === null) return undefined;
  const previewAfter = jobMatch[2] === undefined ? undefined : Number(jobMatch[2]);
  return jobStatusAnswer(context, user, jobMatch[1]!, previewAfter);
}

function send(context: AppContext, request: IncomingMessage, response: ServerResponse, answer: object, startedAt: number): void {
  logWhenClosed(context.log, request, response, startedAt);
  const body = JSON.stringify(answer);
  response.writeHead(200, {
    'Access-Control-Allow-Origin': '*',
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(body);
}
