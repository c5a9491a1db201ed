import type { NextFunction, Request, Response } from 'express';
import { type Authenticator, bearerToken, type User } from './authentication.js';
import { HttpError } from './httpError.js';

const LOOPBACK_HOSTNAMES = ['localhost', '127.0.0.1', '[::1]'];

/** The Host headers of a request addressed to this machine's loopback at `port`. */
export function loopbackHosts(port: number): string[] {
  return LOOPBACK_HOSTNAMES.map((name) => `${name}:${port}`);
}

/**
 * DNS rebinding defence: a web page can point its own host name at our address, but its requests then carry that
 * name in Host. Only the names given are accepted: the loopback names with our port, and a gateway's public name.
 */
export function requireKnownHost(allowedHosts: readonly string[]) {
  const isKnown = knownHostCheck(allowedHosts);
  return (request: Request, _response: Response, next: NextFunction): void => {
    if (!isKnown(request.headers.host)) {
      const host = request.headers.host ?? '';
      throw new HttpError(403, 'forbidden-host', `requests must be addressed to ${allowedHosts.join(', ')} (got Host: ${host || 'none'})`);
    }
    next();
  };
}

/** Whether a Host header names one of `allowedHosts` (case does not matter). */
export function knownHostCheck(allowedHosts: readonly string[]): (host: string | undefined) => boolean {
  const allowed = new Set(allowedHosts.map((host) => host.toLowerCase()));
  return (host) => allowed.has((host ?? '').toLowerCase());
}

/**
 * Any origin may call (the plugin's iframe has origin "null"); no cookies are used, so `*` without credentials
 * grants nothing a token does not. Preflights are answered here, before authentication, as browsers send them
 * without the Authorization header. Chrome's Private Network Access asks before a page reaches loopback.
 */
export function allowCors(request: Request, response: Response, next: NextFunction): void {
  response.setHeader('Access-Control-Allow-Origin', '*');
  if (request.method !== 'OPTIONS') {
    next();
    return;
  }
  response.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE, OPTIONS');
  response.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
  response.setHeader('Access-Control-Max-Age', '600');
  if (request.headers['access-control-request-private-network'] === 'true') {
    response.setHeader('Access-Control-Allow-Private-Network', 'true');
  }
  response.status(204).end();
}

/** Lets through only requests with a token that is someone's; they are `response.locals.user` (see userOf). */
export function requireUser(authenticator: Authenticator) {
  return async (request: Request, response: Response, next: NextFunction): Promise<void> => {
    const presented = bearerToken(request);
    if (presented === null) throw new HttpError(401, 'unauthorized', authenticator.refusals.missing);
    const user = await authenticator.userFor(presented);
    if (user === null) throw new HttpError(401, 'unauthorized', authenticator.refusals.wrong);
    response.locals.user = user;
    next();
  };
}

/** The user requireUser found for this request. */
export function userOf(response: Response): User {
  return response.locals.user as User;
}

/**
 * Refuses a body by the size it declares, before any of it is read. (body-parser checks Content-Length too, but
 * then reads the whole declared body, 10 GB if so declared, before it answers.) A body of undeclared length
 * (chunked) is refused as well: its size could only be learnt by reading it, and browsers' fetch always declares it.
 */
export function limitDeclaredBody(limitBytes: number) {
  return (request: Request, _response: Response, next: NextFunction): void => {
    if (request.headers['transfer-encoding'] !== undefined) {
      throw new HttpError(411, 'bad-request', 'send the body with a Content-Length (a chunked body is not taken)');
    }
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > limitBytes) {
      throw new HttpError(413, 'payload-too-large', `request body too large: ${declared} bytes, at most ${limitBytes} bytes`);
    }
    next();
  };
}
