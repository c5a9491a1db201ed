import type { NextFunction, Request, Response } from 'express';
import { HttpError } from './httpError.js';
import { tokenMatches } from './pairingToken.js';

const LOOPBACK_HOSTNAMES = ['localhost', '127.0.0.1', '[::1]'];

/**
 * DNS rebinding defence: a web page can point its own host name at 127.0.0.1, but its requests then carry that
 * name in Host. Only the loopback names with our port are accepted.
 */
export function requireLocalHost(port: number) {
  const allowed = LOOPBACK_HOSTNAMES.map((name) => `${name}:${port}`);
  return (request: Request, _response: Response, next: NextFunction): void => {
    const host = (request.headers.host ?? '').toLowerCase();
    if (!allowed.includes(host)) {
      throw new HttpError(403, 'forbidden-host', `requests must be addressed to ${allowed.join(', ')} (got Host: ${host || 'none'})`);
    }
    next();
  };
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

/** The request's bearer token, or null when it has no well-formed Authorization header. */
function bearerToken(request: Request): string | null {
  return /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1] ?? null;
}

/** Whether the request carries the right token (for answers that say more to the paired plugin). */
export function presentsPairingToken(request: Request, token: () => string): boolean {
  const presented = bearerToken(request);
  return presented !== null && tokenMatches(presented, token());
}

/** `token` gives the current token: it follows the token file that `gramstyle pair` prints (see PairingTokenFile). */
export function requirePairingToken(token: () => string) {
  return (request: Request, _response: Response, next: NextFunction): void => {
    const presented = bearerToken(request);
    if (presented === null) {
      throw new HttpError(401, 'unauthorized', 'missing pairing token: send "Authorization: Bearer <token>" (run `gramstyle pair` to see it)');
    }
    if (!tokenMatches(presented, token())) {
      throw new HttpError(401, 'unauthorized', 'wrong pairing token (run `gramstyle pair` to see the right one)');
    }
    next();
  };
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
