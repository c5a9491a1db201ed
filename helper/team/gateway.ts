import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { DEFAULT_GATEWAY_PORT } from '../../shared/protocol.js';
import { createApp } from '../server/app.js';
import { HttpError } from '../server/httpError.js';
import { listen } from '../server/listen.js';
import { loopbackHosts } from '../server/security.js';
import { logLine } from '../server/serviceLog.js';
import { gramstyleVersion } from '../version.js';
import { RedisBlobStore } from './blobStore.js';
import { connectRedis, isRedisUnreachable } from './redisConnection.js';
import { TeamJobQueue } from './teamJobQueue.js';
import { UserDirectory } from './userDirectory.js';
import { WorkerRegistry } from './workerRegistry.js';

export interface GatewayOptions {
  readonly redisUrl: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** The name people reach the gateway by (style.example.com): allowed in the Host header besides loopback. */
  readonly publicName?: string;
  /** Serve HTTPS with this certificate and key (PEM files). */
  readonly tls?: { readonly certPath: string; readonly keyPath: string };
  /** A TLS proxy (Caddy, nginx) in front takes the outside's connections: plain HTTP is fine on any address. */
  readonly behindProxy?: boolean;
  readonly maxWaitingPerUser?: number;
  readonly maxWaitMs?: number;
  readonly keepFinishedMs?: number;
  readonly bodyLimitBytes?: number;
  readonly log?: (line: string) => void;
}

export interface RunningGateway {
  readonly url: string;
  readonly port: number;
  /** Stops taking requests; the queued and running jobs stay with Redis and the workers. */
  close(): Promise<void>;
}

/**
 * The gateway would listen where others can reach it in a way that cannot work or is unsafe: in plain HTTP (tokens and
 * images would cross the network bare), or without the name people reach it by (every request would be refused).
 */
export class ExposureError extends Error {}

const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', 'localhost', '::1']);

export function isLoopbackAddress(host: string): boolean {
  return LOOPBACK_ADDRESSES.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * `gramstyle gateway`: the helper's HTTP API (the same routes, schemas and errors) for a team. Jobs go into BullMQ on
 * Redis and run on `gramstyle worker` hosts; each request's token is looked up among the users in Redis.
 */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const log = options.log ?? logLine;
  const host = options.host ?? '127.0.0.1';
  const problems = exposureProblems({ ...options, host });
  if (problems.length > 0) throw new ExposureError(problems.join('\n'));
  const server: Server = options.tls ? createHttpsServer(readTls(options.tls)) : createHttpServer();
  const redis = await connectRedis(options.redisUrl, { failFast: true });
  try {
    await listen(server, host, options.port ?? DEFAULT_GATEWAY_PORT);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  server.on('error', (error) => log(`server error: ${error.message}`));
  const port = (server.address() as AddressInfo).port;
  const queue = new TeamJobQueue(redis, new RedisBlobStore(redis), {
    maxWaitingPerUser: options.maxWaitingPerUser ?? 32,
    maxWaitMs: options.maxWaitMs ?? 24 * 60 * 60_000,
    keepFinishedMs: options.keepFinishedMs ?? 30 * 60_000,
    log,
  });
  const app = createApp({
    role: 'gateway',
    version: gramstyleVersion(),
    instanceId: randomUUID(),
    allowedHosts: [...loopbackHosts(port), ...publicHosts(options.publicName, port)],
    authenticator: new UserDirectory(redis).authenticator(),
    engine: new WorkerRegistry(redis),
    queue,
    bodyLimitBytes: options.bodyLimitBytes ?? 128 * 1024 * 1024, // a batch carries many images
    log,
    answerFor: (error) =>
      isRedisUnreachable(error)
        ? new HttpError(503, 'not-ready', 'the gateway cannot reach its Redis now; try again shortly')
        : null,
  });
  server.on('request', app);
  const scheme = options.tls ? 'https' : 'http';
  const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log(`gramstyle gateway listening on ${url}${options.publicName ? ` (public name ${options.publicName})` : ''}`);
  return {
    url,
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await queue.shutdown();
      await redis.quit().catch(() => {});
    },
  };
}

/**
 * What is wrong with listening on options.host (none on loopback): beyond it, the gateway needs TLS (its own or a
 * proxy's) and the public name, since requests with any other Host header are refused (DNS rebinding).
 */
export function exposureProblems(options: Pick<GatewayOptions, 'host' | 'tls' | 'behindProxy' | 'publicName'>): string[] {
  const host = options.host ?? '127.0.0.1';
  if (isLoopbackAddress(host)) return [];
  const problems: string[] = [];
  if (!options.tls && !options.behindProxy) {
    problems.push(
      `refusing to listen on ${host} without TLS: tokens and images would cross the network in the clear. ` +
        'Give --tls-cert FILE --tls-key FILE, or put a TLS proxy in front and say --behind-proxy (see the README), ' +
        'or listen on 127.0.0.1',
    );
  }
  if (!options.publicName) {
    problems.push(
      `refusing to listen on ${host} without --public-name: requests are answered only when their Host header names ` +
        'the gateway, so every request from another machine would be refused (403). Give --public-name with the name ' +
        'people reach it by (style.example.com)',
    );
  }
  return problems;
}

/** The Host headers of requests addressed to the public name: as given, and with our port unless it names one. */
function publicHosts(publicName: string | undefined, port: number): string[] {
  if (!publicName) return [];
  return /:\d+$/.test(publicName) ? [publicName] : [publicName, `${publicName}:${port}`];
}

function readTls({ certPath, keyPath }: { certPath: string; keyPath: string }): { cert: Buffer; key: Buffer } {
  const read = (path: string, what: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`cannot read the TLS ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  };
  return { cert: read(certPath, 'certificate'), key: read(keyPath, 'key') };
}
