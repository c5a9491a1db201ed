import { parseArgs } from 'node:util';
import { DEFAULT_HELPER_PORT } from '../../shared/protocol.js';
import { isBackendChoice } from '../engine/index.js';
import { PairingTokenFile } from '../server/pairingToken.js';
import { startHelperServer } from '../server/index.js';
import { flushServiceLog, logLine } from '../server/serviceLog.js';
import { argumentSyntaxError, parsePort, unknownBackendProblem } from './jobArgs.js';
import { UsageError } from './usageError.js';

export const SERVE_FLAGS = {
  port: { type: 'string' },
  host: { type: 'string' },
  backend: { type: 'string' },
  weights: { type: 'string' },
} as const;

export interface ServeArgs {
  readonly port: number;
  readonly host: string;
  readonly backend: string;
  readonly weights: string | undefined;
}

export function parseServeArgs(argv: readonly string[]): ServeArgs {
  let values: { port?: string; host?: string; backend?: string; weights?: string };
  try {
    ({ values } = parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: SERVE_FLAGS }));
  } catch (error) {
    throw argumentSyntaxError(error);
  }
  const problems: string[] = [];
  const port = values.port === undefined ? DEFAULT_HELPER_PORT : parsePort(values.port);
  if (port === undefined) problems.push(`--port: expected a port number 0–65535, got "${values.port}"`);
  const backend = values.backend ?? 'auto';
  if (!isBackendChoice(backend)) problems.push(unknownBackendProblem(backend));
  if (problems.length > 0) throw new UsageError(problems);
  return { port: port!, host: values.host ?? '127.0.0.1', backend, weights: values.weights };
}

/**
 * gramstyle serve [--port 7415] [--host 127.0.0.1] [--backend B] [--weights FILE]: the helper the Figma plugin talks
 * to. Runs until SIGTERM or SIGINT, which stop it cleanly: no new jobs, the running one canceled, exit 0.
 */
export async function serveCommand(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const args = parseServeArgs(argv);
  if (!['127.0.0.1', 'localhost', '::1'].includes(args.host)) {
    process.stderr.write(`gramstyle: warning: listening on ${args.host}, not only on this machine; anyone with the token can use it\n`);
  }
  // The token file, followed while the helper runs: `gramstyle pair` and the helper always agree on the token.
  const tokenFile = new PairingTokenFile();
  const helper = await startHelperServer({
    host: args.host,
    port: args.port,
    token: () => tokenFile.current(),
    backend: args.backend as Parameters<typeof startHelperServer>[0]['backend'],
    weights: args.weights,
  });
  helper.ready.catch(() => {
    // Reported by the helper's log and its health answer; it keeps serving health so the plugin can show why.
  });
  const reason = await untilStopped(signal);
  logLine(`${reason}: stopping (the running job is canceled)`);
  await helper.close();
  logLine('stopped');
  flushServiceLog();
  return 0;
}

/** Resolves with the signal's name on SIGTERM, or SIGINT (the CLI's interrupt `signal`). */
export function untilStopped(signal: AbortSignal): Promise<'SIGTERM' | 'SIGINT'> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    signal.addEventListener('abort', () => resolve('SIGINT'), { once: true });
  });
}
