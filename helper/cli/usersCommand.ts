import { connectRedis } from '../team/redisConnection.js';
import { UserDirectory, UserError } from '../team/userDirectory.js';
import { parseCommandArgs, REDIS_FLAG, redisUrlFrom } from './teamArgs.js';
import { UsageError } from './usageError.js';

const ACTIONS = ['add', 'revoke', 'list'] as const;

/**
 * gramstyle users add NAME | revoke NAME | list [--redis URL]: a gateway's users. `add` prints the user's token (256
 * random bits; only its hash is kept, so it is shown this once); `revoke` refuses the token from the next request on.
 */
export async function usersCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, REDIS_FLAG, true);
  const problems: string[] = [];
  const redisUrl = redisUrlFrom(values, problems);
  const [action, name, ...extra] = positionals;
  if (!ACTIONS.includes(action as (typeof ACTIONS)[number])) {
    problems.push(`users: expected add NAME, revoke NAME or list${action === undefined ? '' : `, got "${action}"`}`);
  } else if (action !== 'list' && name === undefined) {
    problems.push(`users ${action}: missing the user's name`);
  }
  const unexpected = action === 'list' ? [name, ...extra] : extra;
  for (const argument of unexpected) if (argument !== undefined) problems.push(`users: unexpected argument "${argument}"`);
  if (problems.length > 0) throw new UsageError(problems);

  const redis = await connectRedis(redisUrl, { failFast: true });
  try {
    const users = new UserDirectory(redis);
    if (action === 'add') {
      const token = await users.add(name!);
      process.stdout.write(`${token}\n`);
      process.stderr.write(`Give this token to ${name}: it is shown only now (Redis keeps only its hash).\n`);
    } else if (action === 'revoke') {
      await users.revoke(name!);
      process.stderr.write(`${name}'s token is refused from now on.\n`);
    } else {
      for (const user of await users.list()) process.stdout.write(`${user.name}\tadded ${user.createdAt}\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof UserError) {
      process.stderr.write(`gramstyle: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    redis.disconnect();
  }
}
