import { homedir, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { applyServicePlan } from '../service/applyServicePlan.js';
import { planService, type ServiceAction, type ServicePlatform } from '../service/servicePlan.js';
import { argumentSyntaxError, choiceList } from './jobArgs.js';
import { parseServeArgs, SERVE_FLAGS } from './serveCommand.js';
import { UsageError } from './usageError.js';

const ACTIONS: readonly ServiceAction[] = ['install', 'uninstall', 'status'];
const PLATFORMS: readonly ServicePlatform[] = ['linux', 'darwin', 'win32'];

/**
 * gramstyle service install|uninstall|status [--dry-run] [--platform P] [serve flags]: runs `gramstyle serve` in the
 * background at logon and restarts it if it crashes. --platform (with --dry-run) shows another system's files.
 */
export async function serviceCommand(argv: readonly string[]): Promise<number> {
  let parsed: { values: { 'dry-run'?: boolean; platform?: string; port?: string; host?: string; backend?: string; weights?: string }; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: { ...SERVE_FLAGS, 'dry-run': { type: 'boolean' }, platform: { type: 'string' } },
    });
  } catch (error) {
    throw argumentSyntaxError(error);
  }
  const { values, positionals } = parsed;
  const [action, ...extra] = positionals;
  const problems: string[] = [];
  if (!ACTIONS.includes(action as ServiceAction)) problems.push(`service: expected ${choiceList(ACTIONS)}, got "${action ?? ''}"`);
  if (extra.length > 0) problems.push(`service: unexpected argument "${extra[0]}"`);
  const platform = (values.platform ?? process.platform) as ServicePlatform;
  if (!PLATFORMS.includes(platform)) problems.push(`--platform: expected ${choiceList(PLATFORMS)}, got "${platform}"`);
  if (values.platform && values.platform !== process.platform && !values['dry-run']) {
    problems.push('--platform: another system can only be shown with --dry-run');
  }
  if (problems.length > 0) throw new UsageError(problems);

  // The service runs the same serve flags it was installed with; they are validated now, not at the next logon.
  const serveFlags = ['port', 'host', 'backend', 'weights'] as const;
  const serveArgv = serveFlags.flatMap((flag) => (values[flag] === undefined ? [] : [`--${flag}`, values[flag]!]));
  parseServeArgs(serveArgv);
  const weightsIndex = serveArgv.indexOf('--weights');
  if (weightsIndex >= 0) serveArgv[weightsIndex + 1] = resolve(serveArgv[weightsIndex + 1]!);

  const plan = planService(action as ServiceAction, {
    platform,
    home: homedir(),
    uid: userInfo().uid,
    localAppData: process.env.LOCALAPPDATA,
    nodePath: process.execPath,
    cliPath: fileURLToPath(new URL('../../../bin/gramstyle.js', import.meta.url)),
    serveArgs: serveArgv,
  });
  return applyServicePlan(plan, { dryRun: values['dry-run'] ?? false, print: (line) => process.stdout.write(`${line}\n`) });
}
