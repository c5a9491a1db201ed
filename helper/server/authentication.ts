import type { IncomingMessage } from 'node:http';
import type { JobOwner } from '../jobs/jobQueue.js';
import { tokenMatches } from './pairingToken.js';

/** Whom a request acts for: the owner of the jobs it makes, sees and cancels. */
export type User = JobOwner;

/**
 * Who a request's bearer token belongs to. The helper has one token, its user's (the pairing token); a gateway has
 * one per user (team/userDirectory.ts). Asked on every request, so that a token revoked or replaced is refused on the
 * next one.
 */
export interface Authenticator {
  /** The token's user, or null when the token is nobody's. */
  userFor(token: string): Promise<User | null>;
  /** What a 401 tells the sender, when the token is missing or wrong. */
  readonly refusals: { readonly missing: string; readonly wrong: string };
}

/** The helper's one user: whoever holds the pairing token. */
export const LOCAL_USER: User = { id: 'local', name: 'local' };

/** `token` gives the current token: it follows the token file that `gramstyle pair` prints (see PairingTokenFile). */
export function pairingTokenAuthenticator(token: () => string): Authenticator {
  return {
    userFor: async (presented) => (tokenMatches(presented, token()) ? LOCAL_USER : null),
    refusals: {
      missing: 'missing pairing token: send "Authorization: Bearer <token>" (run `gramstyle pair` to see it)',
      wrong: 'wrong pairing token (run `gramstyle pair` to see the right one)',
    },
  };
}

/** The request's bearer token, or null when it has no well-formed Authorization header. */
export function bearerToken(request: IncomingMessage): string | null {
  return /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1] ?? null;
}

/** The user whose token the request carries, or null (for answers that say more to a token holder). */
export async function presentedUser(request: IncomingMessage, authenticator: Authenticator): Promise<User | null> {
  const presented = bearerToken(request);
  return presented === null ? null : authenticator.userFor(presented);
}
