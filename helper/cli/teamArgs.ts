import { parseArgs, type ParseArgsConfig } from 'node:util';
import { redisUrlProblem } from '../team/redisConnection.js';
import { argumentSyntaxError } from './jobArgs.js';

/** Where team commands find Redis unless --redis says: GRAMSTYLE_REDIS, else this machine's default port. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export const REDIS_FLAG = { redis: { type: 'string' } } as const;

/** --redis URL, else GRAMSTYLE_REDIS, else the default; a malformed URL is a problem pushed onto `problems`. */
export function redisUrlFrom(values: { readonly redis?: string | undefined }, problems: string[]): string {
  const url = values.redis ?? process.env.GRAMSTYLE_REDIS ?? DEFAULT_REDIS_URL;
  const problem = redisUrlProblem(url);
  if (problem) problems.push(problem);
  return url;
}

/** node:util parseArgs, its own errors as UsageError. */
export function parseCommandArgs<T extends ParseArgsConfig['options']>(argv: readonly string[], options: T, allowPositionals: boolean) {
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals, options });
  } catch (error) {
    throw argumentSyntaxError(error);
  }
}
