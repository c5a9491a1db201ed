import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_HELPER_PORT } from '../../shared/protocol.js';
import { MAX_STYLES } from '../../shared/stylizeOptions.js';
import type { BackendChoice } from '../engine/index.js';
import { MAX_SCALES } from '../engine/multiScale.js';
import { EngineHost } from '../jobs/engineHost.js';
import { LocalJobQueue } from '../jobs/localJobQueue.js';
import { createApp } from './app.js';
import { pairingTokenAuthenticator } from './authentication.js';
import { engineHostReport } from './engineReport.js';
import { listen } from './listen.js';
import { PollPacer } from './pollPacing.js';
import { logLine } from './serviceLog.js';
import { loopbackHosts } from './security.js';
import { gramstyleVersion } from '../version.js';

export interface HelperServerOptions {
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** The pairing token, or where to get the current one (serve: the token file, see PairingTokenFile). */
  readonly token: string | (() => string);
  readonly backend?: BackendChoice;
  /** --weights FILE; else GRAMSTYLE_WEIGHTS, the cache, or a download. */
  readonly weights?: string;
  readonly maxQueued?: number;
  readonly bodyLimitBytes?: number;
  readonly keepFinishedMs?: number;
  readonly previewIntervalMs?: number;
  readonly previewMaxSide?: number;
  /** A running job whose engine reports nothing for this long fails, and the engine restarts (default 10 min). */
  readonly stallTimeoutMs?: number;
  /**
   * A connection's repeated polls are answered at most this often unless there is news, and all connections together
   * about `answersPerSecond` times a second (pollPacing.ts; defaults 1 s, 5 s and 40).
   */
  readonly pollPacing?: { readonly jobStatusMs: number; readonly healthMs: number; readonly answersPerSecond: number };
  readonly log?: (line: string) => void;
}

export interface RunningHelper {
  readonly url: string;
  readonly port: number;
  /** Resolves once the backend and weights are loaded; rejects if the engine cannot start. */
  readonly ready: Promise<void>;
  /** Stops taking requests, cancels queued and running jobs, stops the engine. */
  close(): Promise<void>;
}

/** Starts the helper: the HTTP API at once, the engine (backend and weights) in its worker meanwhile. */
export async function startHelperServer(options: HelperServerOptions): Promise<RunningHelper> {
  const log = options.log ?? logLine;
  const host = options.host ?? '127.0.0.1';
  // Listening first: on a port in use the helper says so and stops before it has started an engine.
  const server = createServer();
  await listen(server, host, options.port ?? DEFAULT_HELPER_PORT);
  server.on('error', (error) => log(`server error: ${error.message}`));
  const port = (server.address() as AddressInfo).port;
  let engine: EngineHost;
  try {
    engine = new EngineHost(
      {
        backend: options.backend ?? 'auto',
        weightsFlag: options.weights,
        // Every scale of every style of the largest job (24 entries of 2.4 MB): a job asks for them in the same order
        // each time, so a smaller LRU would evict each entry before its next use and a re-run would recompute all.
        styleCacheEntries: MAX_STYLES * MAX_SCALES,
        previewIntervalMs: options.previewIntervalMs ?? 1000,
        previewMaxSide: options.previewMaxSide ?? 256,
      },
      options.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: options.stallTimeoutMs },
    );
  } catch (error) {
    server.close(); // a helper without an engine must not hold the port (its worker is missing: not built)
    throw error;
  }
  const queue = new LocalJobQueue(engine, {
    maxQueued: options.maxQueued ?? 8,
    keepFinishedMs: options.keepFinishedMs ?? 30 * 60_000,
    log,
  });
  const { token } = options;
  const app = createApp({
    role: 'helper',
    version: gramstyleVersion(),
    instanceId: randomUUID(),
    allowedHosts: loopbackHosts(port),
    authenticator: pairingTokenAuthenticator(typeof token === 'string' ? () => token : token),
    engine: { report: async () => engineHostReport(engine) },
    queue,
    bodyLimitBytes: options.bodyLimitBytes ?? 64 * 1024 * 1024,
    log,
    pollPacer: new PollPacer({
      jobStatusIntervalMs: options.pollPacing?.jobStatusMs ?? 1000,
      healthIntervalMs: options.pollPacing?.healthMs ?? 5000,
      // Fifty clients polling a job and health: each gets its job's status every 2.5 s.
      answersPerSecond: options.pollPacing?.answersPerSecond ?? 40,
      tickMs: 250,
    }),
  });
  server.on('request', app);
  const ready = engine.ready();
  ready.then(
    () => log(`engine ready: ${engine.status.backend} on ${engine.status.device}`),
    (error: unknown) => log(`engine failed to start: ${error instanceof Error ? error.message : String(error)}`),
  );
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log(`gramstyle helper listening on ${url}`);

  return {
    url,
    port,
    ready,
    async close() {
      await queue.shutdown();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await engine.close();
    },
  };
}
