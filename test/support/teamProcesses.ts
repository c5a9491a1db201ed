import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { GramstyleCli } from './gramstyleCli.js';
import { realWeightsPath } from './sharedAssets.js';

/** A `gramstyle` process started by a test (a gateway, a worker), with its whole log and ways to wait on it. */
export class LoggedProcess {
  private output = '';
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly child: ChildProcessWithoutNullStreams,
  ) {
    child.stdout.on('data', (chunk: Buffer) => (this.output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (this.output += chunk));
    this.exited = new Promise((done) => child.once('close', done));
  }

  log(): string {
    return this.output;
  }

  /** Resolves with the first match of `pattern` in the log, once there is one; fails after timeoutMs or if it exits. */
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const match = pattern.exec(this.output);
      if (match) return match;
      if (exited) throw new Error(`${this.name} exited before its log showed ${pattern}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`${this.name}'s log did not show ${pattern} within ${timeoutMs} ms:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** kill -9: no cleanup, no goodbye, as a crash or a pulled plug. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then SIGKILL if it has not stopped within timeoutMs. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** `gramstyle gateway` on a free port of 127.0.0.1 unless `args` say otherwise; resolves once it listens. */
export async function startGatewayProcess(cli: GramstyleCli, redisUrl: string, args: readonly string[] = []) {
  const gateway = new LoggedProcess('gateway', cli.spawn(['gateway', '--redis', redisUrl, '--port', '0', ...args]));
  const [, url] = await gateway.waitFor(/listening on (https?:\/\/\S+:\d+)/, 30_000);
  return { process: gateway, url: url!, port: Number(new URL(url!).port) };
}

/**
 * `gramstyle worker` with the real weights on this machine's default backend and a short lock (so that a killed
 * worker's job is put back within seconds); resolves once it takes jobs.
 */
export async function startWorkerProcess(cli: GramstyleCli, redisUrl: string, name: string): Promise<LoggedProcess> {
  const args = ['worker', '--redis', redisUrl, '--name', name, '--lock-seconds', '2', '--weights', realWeightsPath()];
  const worker = new LoggedProcess(name, cli.spawn(args));
  await worker.waitFor(/taking jobs/, 120_000);
  return worker;
}

/** The ids of the jobs a worker took, in order, from its log. */
export function jobsTakenBy(worker: LoggedProcess): string[] {
  return [...worker.log().matchAll(/took job (\S+)/g)].map((match) => match[1]!);
}
