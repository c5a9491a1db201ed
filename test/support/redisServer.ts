import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './freePort.js';

const REDIS_SERVER = '/usr/bin/redis-server';

/**
 * Debian's redis-server for a test file: a free port on 127.0.0.1, nothing saved (no RDB, no AOF), its files in a
 * temporary folder. Stopped by its pid, never by name: other people's Redis servers may run on this machine.
 */
export class RedisServer {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisServer> {
    const dir = await mkdtemp(join(tmpdir(), 'gramstyle-redis-'));
    const port = await freePort();
    const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
    let log = '';
    child.stdout!.on('data', (chunk: Buffer) => (log += chunk));
    child.stderr!.on('data', (chunk: Buffer) => (log += chunk));
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`redis-server did not start within 10 s:\n${log}`)), 10_000);
      child.stdout!.on('data', () => {
        if (!log.includes('Ready to accept connections')) return;
        clearTimeout(timer);
        ready();
      });
      child.once('error', (error) => fail(new Error(`cannot start ${REDIS_SERVER} (apt-get install redis-server): ${error.message}`)));
      child.once('exit', () => fail(new Error(`redis-server exited early:\n${log}`)));
    });
    return new RedisServer(child, dir, port);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((done) => this.child.once('exit', done));
      this.child.kill('SIGTERM');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
