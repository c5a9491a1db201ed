import { connect, type Socket } from 'node:net';

/**
 * HTTP written by hand on a socket, for what fetch will not do: send part of a declared body and wait, or hang up
 * right after the body. Loopback only.
 */

export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Whether the helper closed the connection after answering (within a second). */
  readonly closedByHelper: boolean;
}

export interface RawRequest {
  readonly method?: string;
  readonly path: string;
  /** Host is added (the helper's own) unless given. */
  readonly headers?: Readonly<Record<string, string>>;
}

function head(url: string, request: RawRequest, extraHeaders: Record<string, string>): string {
  const { host } = new URL(url);
  const headers: Record<string, string> = { Host: host, ...request.headers, ...extraHeaders };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return `${request.method ?? 'GET'} ${request.path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

function open(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Reads one answer from the socket; resolves null if none is complete within waitMs. */
function readAnswer(socket: Socket, waitMs: number): Promise<RawAnswer | null> {
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    let answer: Omit<RawAnswer, 'closedByHelper'> | null = null;
    let closed = false;
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer && { ...answer, closedByHelper: closed });
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('error', () => {}); // a reset after the answer is the helper closing: 'close' follows
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('data', (chunk: Buffer) => {
      if (answer) return;
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...headerLines] = received.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (received.length < end + 4 + length) return;
      answer = {
        status: Number(statusLine!.split(' ')[1]),
        headers,
        body: received.subarray(end + 4, end + 4 + length).toString('utf8'),
      };
      // The answer is complete: give the helper a moment to close the connection, as it should after refusing a body.
      clearTimeout(timer);
      setTimeout(finish, 1000);
    });
  });
}

/**
 * Declares a body of `declaredLength` bytes (or, without it, sends a chunked body) but sends only `bodyPrefix`, then
 * waits up to waitMs for the answer. An answer proves the helper neither waited for nor parsed the rest. Null when
 * none came.
 */
export async function sendPartialBody(
  url: string,
  request: RawRequest & { declaredLength?: number; bodyPrefix: string; waitMs: number },
): Promise<RawAnswer | null> {
  const socket = await open(url);
  const answer = readAnswer(socket, request.waitMs);
  const { declaredLength, bodyPrefix } = request;
  if (declaredLength === undefined) {
    socket.write(head(url, { method: 'POST', ...request }, { 'Transfer-Encoding': 'chunked' }));
    socket.write(`${Buffer.byteLength(bodyPrefix).toString(16)}\r\n${bodyPrefix}\r\n`);
  } else {
    socket.write(head(url, { method: 'POST', ...request }, { 'Content-Length': String(declaredLength) }));
    socket.write(bodyPrefix);
  }
  return answer;
}

/**
 * Sends a whole request, then hangs up at once: `end` half-closes (the client sends FIN, as a process that exits
 * does), `destroy` closes both ways. Resolves once the socket is closed.
 */
export async function sendThenHangUp(url: string, request: RawRequest & { body: string; how: 'end' | 'destroy' }): Promise<void> {
  const socket = await open(url);
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.on('close', resolve));
  const headers = { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(request.body)) };
  socket.write(head(url, { method: 'POST', ...request }, headers) + request.body, () => {
    if (request.how === 'end') socket.end();
    else socket.destroy();
  });
  await closed;
}
