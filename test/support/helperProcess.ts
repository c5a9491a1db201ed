import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { realWeightsPath } from './sharedAssets.js';

const CLI = resolve(import.meta.dirname, '..', '..', 'bin', 'gramstyle.js');

/**
 * `gramstyle serve` as a user runs it: its own process, with a temporary home and config directory (so its pairing
 * token is a fresh one), which a test can kill -9 and start again on the same port, as a crash and a restart would.
 */
export class HelperProcess {
  private child: ChildProcess | null = null;
  private log = '';

  private constructor(
    private readonly home: string,
    readonly token: string,
    public port: number,
  ) {}

  /** Pairs (creating the token) and serves on a free port, on the wasm backend. */
  static async start(): Promise<HelperProcess> {
    const home = await mkdtemp(join(tmpdir(), 'gramstyle-helper-home-'));
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'pair'], { env: environment(home) });
    const helper = new HelperProcess(home, stdout.trim(), 0);
    await helper.serve();
    return helper;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts `serve` (again) on the helper's port; resolves once it listens. */
  async serve(): Promise<void> {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', String(this.port), '--backend', 'wasm'], { env: environment(this.home) });
    this.child = child;
    this.log = '';
    child.stderr.on('data', (chunk: Buffer) => (this.log += chunk));
    this.port = await new Promise<number>((found, fail) => {
      child.stdout.on('data', (chunk: Buffer) => {
        this.log += chunk;
        const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(this.log);
        if (match) found(Number(match[1]));
      });
      child.once('exit', () => fail(new Error(`gramstyle serve exited early:\n${this.log}`)));
    });
  }

  /** Kills the process at once, as a crash would: no cleanup, no answer to anything in flight. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGKILL');
    await exited;
  }

  /** Stops the process and removes its home. */
  async stop(): Promise<void> {
    await this.kill();
    await rm(this.home, { recursive: true, force: true });
  }
}

function environment(home: string): NodeJS.ProcessEnv {
  return { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), GRAMSTYLE_WEIGHTS: realWeightsPath() };
}
