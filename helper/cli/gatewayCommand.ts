import { DEFAULT_GATEWAY_PORT } from '../../shared/protocol.js';
import { flushServiceLog, logLine } from '../server/serviceLog.js';
import { ExposureError, exposureProblems, startGateway } from '../team/gateway.js';
import { parsePort, parseWholeNumber } from './jobArgs.js';
import { untilStopped } from './serveCommand.js';
import { parseCommandArgs, REDIS_FLAG, redisUrlFrom } from './teamArgs.js';
import { UsageError } from './usageError.js';

const GATEWAY_FLAGS = {
  ...REDIS_FLAG,
  host: { type: 'string' },
  port: { type: 'string' },
  'public-name': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'behind-proxy': { type: 'boolean' },
  'max-waiting': { type: 'string' },
  'keep-minutes': { type: 'string' },
} as const;

/**
 * gramstyle gateway --redis URL [--host H] [--port 7416] [--public-name NAME] [--tls-cert F --tls-key F |
 * --behind-proxy] [--max-waiting N] [--keep-minutes N]: the team's server. Runs until SIGTERM or SIGINT; the jobs
 * stay in Redis for the workers (and for the gateway when it is back).
 */
export async function gatewayCommand(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const { values } = parseCommandArgs(argv, GATEWAY_FLAGS, false);
  const problems: string[] = [];
  const redisUrl = redisUrlFrom(values, problems);
  const port = values.port === undefined ? DEFAULT_GATEWAY_PORT : parsePort(values.port);
  if (port === undefined) problems.push(`--port: expected a port number 0–65535, got "${values.port}"`);
  const maxWaiting = values['max-waiting'] === undefined ? 32 : parseWholeNumber(values['max-waiting'], 1);
  if (maxWaiting === undefined) problems.push(`--max-waiting: expected a whole number from 1, got "${values['max-waiting']}"`);
  const keepMinutes = values['keep-minutes'] === undefined ? 30 : parseWholeNumber(values['keep-minutes'], 1);
  if (keepMinutes === undefined) problems.push(`--keep-minutes: expected a whole number from 1, got "${values['keep-minutes']}"`);
  const [certPath, keyPath] = [values['tls-cert'], values['tls-key']];
  if ((certPath === undefined) !== (keyPath === undefined)) problems.push('--tls-cert and --tls-key go together: give both');
  if (certPath && values['behind-proxy']) problems.push('--behind-proxy means the proxy does TLS: give it or --tls-cert/--tls-key, not both');
  const publicName = values['public-name'];
  if (publicName !== undefined && !/^[a-z0-9.-]+(:\d+)?$/i.test(publicName)) {
    problems.push(`--public-name: expected a host name such as style.example.com, got "${publicName}"`);
  }
  const host = values.host ?? '127.0.0.1';
  const tls = certPath && keyPath ? { certPath, keyPath } : undefined;
  const behindProxy = values['behind-proxy'] === true;
  problems.push(...exposureProblems({ host, tls, behindProxy, publicName }));
  if (problems.length > 0) throw new UsageError(problems);

  let gateway;
  try {
    gateway = await startGateway({
      redisUrl,
      host,
      port: port!,
      publicName,
      tls,
      behindProxy,
      maxWaitingPerUser: maxWaiting!,
      keepFinishedMs: keepMinutes! * 60_000,
    });
  } catch (error) {
    if (error instanceof ExposureError) throw new UsageError([error.message]);
    throw error;
  }
  const reason = await untilStopped(signal);
  logLine(`${reason}: stopping (queued and running jobs stay with Redis and the workers)`);
  await gateway.close();
  logLine('stopped');
  flushServiceLog();
  return 0;
}
