import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

/** One line per request, once it is answered or its client has left: method, URL (tokens hidden), status, time. */
export function logRequests(log: (line: string) => void) {
  return (request: Request, response: Response, next: NextFunction): void => {
    logWhenClosed(log, request, response, performance.now());
    next();
  };
}

/** Responses whose log line is arranged for: a poll that waited and was then handed to express is logged once. */
const logged = new WeakSet<ServerResponse>();

/** The request's log line, written when its answer has gone out or its client has left (once, however often asked). */
export function logWhenClosed(log: (line: string) => void, request: IncomingMessage, response: ServerResponse, startedAt: number): void {
  if (logged.has(response)) return;
  logged.add(response);
  // request.url as it came (express rewrites it only inside routers mounted below the app).
  const url = request.url ?? '';
  response.once('close', () => {
    const ms = `${(performance.now() - startedAt).toFixed(1)} ms`;
    const outcome = response.writableFinished ? `${response.statusCode} ${ms}` : `- client left before the answer, ${ms}`;
    log(`${request.method} ${withoutTokens(url)} ${outcome}`);
  });
}

/**
 * The URL with the value of every query parameter whose name says token (token, access_token…) hidden. Split by
 * hand rather than with one pattern: the URL is the sender's, and a pattern over it must not backtrack.
 */
function withoutTokens(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart < 0) return url;
  const parameters = url
    .slice(queryStart + 1)
    .split('&')
    .map((parameter) => {
      const equals = parameter.indexOf('=');
      if (equals < 0) return parameter;
      const name = parameter.slice(0, equals);
      return /token/i.test(decodedOrAsIs(name)) ? `${name}=[redacted]` : parameter;
    });
  return `${url.slice(0, queryStart)}?${parameters.join('&')}`;
}

function decodedOrAsIs(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
