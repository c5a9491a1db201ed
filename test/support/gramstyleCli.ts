import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join, resolve } from 'node:path';
import { projectRoot } from './projectRoot.js';

const CLI = resolve(projectRoot, 'bin', 'gramstyle.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A `gramstyle serve` started by a test, with its whole log (stdout and stderr). */
export interface ServingHelper {
  readonly url: string;
  readonly port: number;
  readonly process: ChildProcessWithoutNullStreams;
  log(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * The real CLI, as users run it (`node bin/gramstyle.js` on the built dist/), with a temporary HOME and config folder
 * so that the user's own token and services are untouched.
 */
export class GramstyleCli {
  constructor(
    readonly home: string,
    private readonly env: Readonly<Record<string, string>> = {},
  ) {}

  static readonly path = CLI;

  get configDir(): string {
    return join(this.home, '.config', 'gramstyle');
  }

  get tokenFile(): string {
    return join(this.configDir, 'pairing-token');
  }

  spawn(args: readonly string[]): ChildProcessWithoutNullStreams {
    return spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, HOME: this.home, XDG_CONFIG_HOME: join(this.home, '.config'), ...this.env },
    });
  }

  /** Runs a command to its end; kills it (and says so) if it takes longer than timeoutMs. */
  async run(args: readonly string[], timeoutMs = 60_000): Promise<CliResult> {
    const child = this.spawn(args);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => {
      stderr += `\n[test: killed after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    const code = await new Promise<number | null>((done) => child.on('close', done));
    clearTimeout(timer);
    return { code, stdout, stderr };
  }

  /** Starts `gramstyle serve` with these arguments; resolves once it listens. */
  async serve(args: readonly string[]): Promise<ServingHelper> {
    const child = this.spawn(['serve', ...args]);
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => (log += chunk));
    const exited = new Promise<number | null>((done) => child.on('close', done));
    const url = await new Promise<string>((found, fail) => {
      child.stdout.on('data', (chunk: Buffer) => {
        log += chunk;
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
        if (match) found(match[1]!);
      });
      void exited.then(() => fail(new Error(`serve exited early:\n${log}`)));
    });
    return {
      url,
      port: Number(new URL(url).port),
      process: child,
      log: () => log,
      async stop() {
        child.kill('SIGTERM');
        return exited;
      },
    };
  }
}
