import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Authenticator, User } from '../server/authentication.js';
import { teamKeys } from './teamKeys.js';

/** A user name: what the admin types, what logs show. Letters, digits, dot, dash, underscore; at most 64. */
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Tokens are 256 random bits in hex: anything else is nobody's, and costs no lookup. */
const TOKEN = /^[0-9a-f]{64}$/;

export class UserError extends Error {}

/** A user's entry in Redis (teamKeys.users, by name). */
const userEntrySchema = z.object({
  /** Stable for as long as the name stays added: jobs belong to it, so that a name added again sees none of them. */
  id: z.string(),
  tokenHash: z.string(),
  createdAt: z.string(),
});

/**
 * Whose a token is (teamKeys.tokens, by the token's hash): the user's id and name together, so that one lookup tells
 * a request whom it acts for; a name revoked and added again between two lookups could otherwise join the new
 * user's id to the old user's token.
 */
const tokenOwnerSchema = z.object({ id: z.string(), name: z.string() });

export interface UserEntry {
  readonly name: string;
  readonly createdAt: string;
}

/**
 * A gateway's users, in Redis: each has one personal token, stored as its SHA-256 only (a token is 256 random bits,
 * so a fast hash is enough: there is nothing to guess from it). Every request looks its token up again, so revoking a
 * user refuses their very next request.
 */
export class UserDirectory {
  constructor(private readonly redis: Redis) {}

  /** Adds the user; returns their token, which is shown once and never stored. */
  async add(name: string): Promise<string> {
    if (!USER_NAME.test(name)) {
      throw new UserError(`"${name}" is not a user name: use letters, digits, dots, dashes and underscores (at most 64)`);
    }
    const token = randomBytes(32).toString('hex');
    const tokenHash = hashToken(token);
    const id = randomUUID();
    const entry = JSON.stringify(userEntrySchema.parse({ id, tokenHash, createdAt: new Date().toISOString() }));
    if ((await this.redis.hsetnx(teamKeys.users, name, entry)) === 0) {
      throw new UserError(`user "${name}" exists already (revoke it first to give them a new token)`);
    }
    await this.redis.hset(teamKeys.tokens, tokenHash, JSON.stringify(tokenOwnerSchema.parse({ id, name })));
    return token;
  }

  /** Removes the user and their token. Their jobs run on; their results expire unfetched. */
  async revoke(name: string): Promise<void> {
    const entry = await this.redis.hget(teamKeys.users, name);
    if (entry === null) throw new UserError(`there is no user "${name}"`);
    // Only the token's hash: an entry of an earlier version (no id) is revoked like any other.
    const { tokenHash } = userEntrySchema.pick({ tokenHash: true }).parse(JSON.parse(entry));
    await this.redis.multi().hdel(teamKeys.tokens, tokenHash).hdel(teamKeys.users, name).exec();
  }

  async list(): Promise<UserEntry[]> {
    const entries = await this.redis.hgetall(teamKeys.users);
    return Object.entries(entries)
      .map(([name, entry]) => ({ name, createdAt: userEntrySchema.pick({ createdAt: true }).parse(JSON.parse(entry)).createdAt }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The token's user, or null. */
  async userFor(token: string): Promise<User | null> {
    if (!TOKEN.test(token)) return null;
    const owner = await this.redis.hget(teamKeys.tokens, hashToken(token));
    return owner === null ? null : tokenOwnerOf(owner);
  }

  authenticator(): Authenticator {
    return {
      userFor: (token) => this.userFor(token),
      refusals: {
        missing: 'missing token: send "Authorization: Bearer <your token>" (whoever runs the gateway gives it: gramstyle users add NAME)',
        wrong: 'this token is nobody’s (revoked, or mistyped): ask whoever runs the gateway for yours (gramstyle users add NAME)',
      },
    };
  }
}

/**
 * The owner a token entry names; null for an entry of an earlier version (a bare name, no id): its user must be added
 * again, and meanwhile gets the 401 that says to ask for a token, not a 500.
 */
function tokenOwnerOf(entry: string): User | null {
  try {
    const parsed = tokenOwnerSchema.safeParse(JSON.parse(entry));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
