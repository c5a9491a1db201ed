/**
 * The helper as users run it, for the benches: `gramstyle serve` in its own process on a free port, with a temporary
 * config folder (its own token, printed by `gramstyle pair`) and bench/helperProbe.js inside, which reports the
 * helper's event-loop delay and memory. Traffic goes to 127.0.0.1 only.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bearer, healthSchema } from '../shared/protocol.js';
import { defaultWeightsPath } from './benchAssets.js';

export const PROBE_PREFIX = 'gramstyle-probe ';
export const PROBE_INTERVAL_MS = 200;

/** One line of the probe. */
export interface ProbeSample {
  /** When it was taken (Date.now()). */
  readonly at: number;
  /**
   * The longest the helper's event loop was late since the previous sample (10 ms resolution): its own work, or the
   * machine giving its core to other processes. `busy` tells the two apart.
   */
  readonly maxDelayMs: number;
  /** The share of that time the event loop was running code (performance.eventLoopUtilization), 0–1. */
  readonly busy: number;
  readonly rssBytes: number;
  /** CPU time the whole process (every thread) has used since it started, in µs. */
  readonly cpuMicros: number;
}

export interface ServedHelper {
  readonly url: string;
  /** The paired plugin's headers: the token, and JSON bodies. */
  readonly headers: Readonly<Record<string, string>>;
  /** The probe's samples so far, oldest first. */
  readonly samples: readonly ProbeSample[];
  /** SIGTERM, then the temporary config folder is removed. */
  close(): Promise<void>;
}

const distDir = resolve(fileURLToPath(import.meta.url), '..');
const cli = resolve(distDir, '..', '..', 'bin', 'gramstyle.js');
const probe = pathToFileURL(join(distDir, 'helperProbe.js')).href;

/** Collects the probe's lines from a process's stderr into `samples`; passes every other line on to ours. */
function collectProbeSamples(stderr: Readable, samples: ProbeSample[]): void {
  let pending = '';
  stderr.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith(PROBE_PREFIX)) samples.push(JSON.parse(line.slice(PROBE_PREFIX.length)) as ProbeSample);
      else process.stderr.write(`${line}\n`);
    }
  });
}

/**
 * An idle Node process with the same probe, beside the helper: the delays it sees are the machine's (other processes
 * holding the cores), not anyone's work. On a shared machine they tell whether a helper's delay means anything.
 */
export function startIdleProbe(): { readonly samples: readonly ProbeSample[]; stop(): void } {
  const child = spawn(process.execPath, ['--import', probe, '-e', 'setInterval(() => {}, 2 ** 30)'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const samples: ProbeSample[] = [];
  collectProbeSamples(child.stderr, samples);
  return { samples, stop: () => child.kill() };
}

/**
 * Starts `gramstyle serve --port 0` and resolves once its engine is ready. The weights: `weights`, else
 * GRAMSTYLE_WEIGHTS, else the workspace's copy in ../shared (never a download).
 */
export async function startServedHelper(options: { weights?: string | undefined } = {}): Promise<ServedHelper> {
  const configHome = await mkdtemp(join(tmpdir(), 'gramstyle-bench-'));
  const env = { ...process.env, XDG_CONFIG_HOME: configHome, GRAMSTYLE_WEIGHTS: resolve(defaultWeightsPath(options.weights)) };
  // The request log goes to a file: a pipe that this (busy) process drained too slowly would block the helper's
  // synchronous writes to stdout, and the bench would measure itself.
  const logPath = join(configHome, 'helper.log');
  const log = await open(logPath, 'w');
  const child = spawn(process.execPath, ['--import', probe, cli, 'serve', '--port', '0'], { env, stdio: ['ignore', log.fd, 'pipe'] });
  await log.close();
  let exitCode: number | null | undefined;
  const exited = new Promise((done) => child.on('close', (code) => done((exitCode = code))));
  const samples: ProbeSample[] = [];
  collectProbeSamples(child.stderr!, samples);
  const close = async (): Promise<void> => {
    child.kill('SIGTERM');
    await exited;
    await rm(configHome, { recursive: true, force: true });
  };
  try {
    let url: string | undefined;
    while (!url) {
      const output = await readFile(logPath, 'utf8');
      if (exitCode !== undefined) throw new Error(`the helper exited:\n${output}`);
      url = /listening on (http:\/\/[^\s]+)/.exec(output)?.[1];
      await sleep(100);
    }
    const pair = spawn(process.execPath, [cli, 'pair'], { env });
    const token = await new Promise<string>((found) => {
      let output = '';
      pair.stdout.on('data', (chunk: Buffer) => (output += chunk));
      pair.on('close', () => found(output.trim()));
    });
    const headers = { Authorization: bearer(token), 'Content-Type': 'application/json' };
    for (;;) {
      const health = healthSchema.parse(await (await fetch(`${url}/v1/health`, { headers })).json());
      if (health.status === 'ready') break;
      if (health.status === 'error') throw new Error(`the helper could not start: ${health.details?.message}`);
      await sleep(200);
    }
    return { url, headers, samples, close };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface ProbeSummary {
  readonly maxDelayMs: number;
  /** How busy the event loop was in the busiest sample, and on average, 0–1 (of one core, at most). */
  readonly maxBusy: number;
  readonly meanBusy: number;
  readonly peakRssBytes: number;
}

/** The helper's longest event-loop delay, busiest moment and highest memory in the samples between from and to. */
export function probeSummary(samples: readonly ProbeSample[], from: number, to: number): ProbeSummary {
  // A sample covers the interval before it: the one after `to` still covers its end.
  const within = samples.filter((sample) => sample.at > from && sample.at <= to + PROBE_INTERVAL_MS);
  return {
    maxDelayMs: Math.max(0, ...within.map((sample) => sample.maxDelayMs)),
    maxBusy: Math.max(0, ...within.map((sample) => sample.busy)),
    meanBusy: within.reduce((sum, sample) => sum + sample.busy, 0) / Math.max(1, within.length),
    peakRssBytes: Math.max(0, ...within.map((sample) => sample.rssBytes)),
  };
}

/** Waits for the probe's next sample, so that a phase starts and ends on fresh figures. */
export async function nextSample(helper: ServedHelper): Promise<ProbeSample> {
  const count = helper.samples.length;
  while (helper.samples.length === count) await sleep(PROBE_INTERVAL_MS / 4);
  return helper.samples.at(-1)!;
}

/** What a figure was measured on: the cores, the CPU, and how busy the machine already was. */
export function describeMachine(): string {
  const [oneMinute] = loadavg();
  return `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), load average ${oneMinute!.toFixed(2)}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

export const megabytes = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;
