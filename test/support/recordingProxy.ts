import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One exchange through the proxy: the request line, the answer's status and, for JSON, its body. */
export interface Exchange {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly json: unknown;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of a real server (a gateway), recording what a client asks and what it is
 * answered, unchanged: for tests of what a client sends (chunks, queries) that the server's log does not show.
 */
export class RecordingProxy {
  readonly exchanges: Exchange[] = [];
  /** Until then (Date.now()), the server seems away: every connection is cut before an answer (see outage). */
  private awayUntil = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(target: string): Promise<RecordingProxy> {
    const { hostname, port } = new URL(target);
    let proxy: RecordingProxy | null = null;
    const server = createServer((incoming, outgoing) => {
      if (Date.now() < proxy!.awayUntil) {
        incoming.socket.destroy();
        return;
      }
      const forwarded = httpRequest(
        { hostname, port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: `${hostname}:${port}` } },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => {
            const body = Buffer.concat(chunks);
            const json = /json/.test(answer.headers['content-type'] ?? '') ? (JSON.parse(body.toString('utf8')) as unknown) : null;
            proxy!.exchanges.push({ method: incoming.method!, url: incoming.url!, status: answer.statusCode!, json });
            outgoing.writeHead(answer.statusCode!, answer.headers).end(body);
          });
        },
      );
      forwarded.on('error', (error) => outgoing.writeHead(502).end(String(error)));
      incoming.pipe(forwarded);
    });
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    proxy = new RecordingProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return proxy;
  }

  /** For `ms` from now, the server seems away (a restart, a network cut): connections are cut, nothing answers. */
  outage(ms: number): void {
    this.awayUntil = Date.now() + ms;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((closed) => this.server.close(() => closed()));
  }
}
