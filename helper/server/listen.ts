import type { Server } from 'node:net';

/**
 * Listens, or rejects with what the user can do about it. (Express's app.listen hands the error to its callback as if
 * it were listening, and the helper hung.)
 */
export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException): void => reject(new Error(listenProblem(error, host, port)));
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
}

export function listenProblem(error: NodeJS.ErrnoException, host: string, port: number): string {
  switch (error.code) {
    case 'EADDRINUSE':
      return `port ${port} is in use (is another gramstyle helper running?)`;
    case 'EACCES':
      return `not allowed to listen on port ${port} (choose another with --port)`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${host}: it is not an address of this machine`;
    default:
      return `cannot listen on ${host}:${port}: ${error.message}`;
  }
}
