/**
 * Load check of the helper (not a timed test): while a job runs, 50 clients poll health and the job's status at
 * 20 Hz each, as many open plugin panels would. Prints how much the job slowed down against the same job without
 * load, and the request latencies.
 *
 *   npm run load [-- --size 128 --iterations 12 --clients 50 --hz 20 --weights FILE]
 *
 * The helper runs as its own process (`gramstyle serve`), as it does for users; traffic goes to 127.0.0.1 only and
 * stops with the job (or after --max-seconds).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { bearer, healthSchema, jobStatusSchema } from '../shared/protocol.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '128' },
    iterations: { type: 'string', default: '12' },
    clients: { type: 'string', default: '50' },
    hz: { type: 'string', default: '20' },
    weights: { type: 'string' },
    'max-seconds': { type: 'string', default: '600' },
  },
});
const size = Number(values.size);
const iterations = Number(values.iterations);
const clients = Number(values.clients);
const hz = Number(values.hz);
const maxSeconds = Number(values['max-seconds']);

const projectRoot = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const configHome = await mkdtemp(join(tmpdir(), 'gramstyle-load-'));
const child = spawn(process.execPath, [join(projectRoot, 'bin', 'gramstyle.js'), 'serve', '--port', '0'], {
  env: {
    ...process.env,
    XDG_CONFIG_HOME: configHome,
    ...(values.weights ? { GRAMSTYLE_WEIGHTS: resolve(values.weights) } : {}),
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const deadline = Date.now() + maxSeconds * 1000;

try {
  const url = await new Promise<string>((found, fail) => {
    let output = '';
    const findUrl = (chunk: Buffer) => {
      output += chunk;
      const match = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (!match) return;
      // Keep draining the helper's request log (a full pipe would block it) without keeping it.
      child.stdout.off('data', findUrl);
      child.stdout.resume();
      found(match[1]!);
    };
    child.stdout.on('data', findUrl);
    child.on('exit', () => fail(new Error(`the helper exited:\n${output}`)));
  });
  const pair = spawn(process.execPath, [join(projectRoot, 'bin', 'gramstyle.js'), 'pair'], {
    env: { ...process.env, XDG_CONFIG_HOME: configHome },
  });
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

  const [content, style] = await Promise.all([pattern(size, '#2a6f97', '#f4d35e'), pattern(size, '#bc4b51', '#8cb369')]);
  const body = JSON.stringify({ content, style, options: { size, iterations } });

  /** Submits the job and polls it (10 Hz, like the plugin) until it ends; returns its wall time in seconds. */
  async function runJob(onCreated: (id: string) => void = () => {}): Promise<number> {
    const startedAt = performance.now();
    const created = (await (await fetch(`${url}/v1/jobs`, { method: 'POST', headers, body })).json()) as { id: string };
    onCreated(created.id);
    for (;;) {
      const status = jobStatusSchema.parse(await (await fetch(`${url}/v1/jobs/${created.id}`, { headers })).json());
      if (status.status === 'failed') throw new Error(`the job failed: ${status.error?.message}`);
      if (status.status !== 'queued' && status.status !== 'running') return (performance.now() - startedAt) / 1000;
      if (Date.now() > deadline) throw new Error('--max-seconds reached');
      await sleep(100);
    }
  }

  console.log(`helper at ${url}; job: ${size} px, ${iterations} iterations`);
  await runJob(); // warm-up: first-use compilation and the style cache
  const quietSeconds = await runJob();
  console.log(`without load: ${quietSeconds.toFixed(2)} s`);

  const latencies: number[] = [];
  let failures = 0;
  let loadRunning = true;
  let jobId = '';
  const pollers = Array.from({ length: clients }, async (_, client) => {
    await sleep((1000 / hz) * (client / clients)); // spread the clients over one period
    for (let i = 0; loadRunning && Date.now() < deadline; i++) {
      const tickStartedAt = performance.now();
      const path = i % 2 === 0 || !jobId ? '/v1/health' : `/v1/jobs/${jobId}`;
      try {
        const response = await fetch(`${url}${path}`, { headers });
        await response.arrayBuffer();
        if (!response.ok) failures += 1;
      } catch {
        failures += 1;
      }
      const elapsed = performance.now() - tickStartedAt;
      latencies.push(elapsed);
      await sleep(Math.max(0, 1000 / hz - elapsed));
    }
  });
  const loadedStartedAt = performance.now();
  const loadedSeconds = await runJob((id) => (jobId = id));
  loadRunning = false;
  await Promise.all(pollers);
  const loadSeconds = (performance.now() - loadedStartedAt) / 1000;

  latencies.sort((a, b) => a - b);
  const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  console.log(`with ${clients} clients at ${hz} Hz: ${loadedSeconds.toFixed(2)} s`);
  console.log(`slowdown: ${((loadedSeconds / quietSeconds - 1) * 100).toFixed(1)} %`);
  console.log(
    `requests: ${latencies.length} in ${loadSeconds.toFixed(1)} s (${(latencies.length / loadSeconds).toFixed(0)}/s), ` +
      `${failures} failed; latency p50 ${percentile(0.5).toFixed(1)} ms, p99 ${percentile(0.99).toFixed(1)} ms, ` +
      `max ${latencies[latencies.length - 1]!.toFixed(1)} ms`,
  );
} finally {
  child.kill('SIGTERM');
  await new Promise((done) => child.on('close', done));
  await rm(configHome, { recursive: true, force: true });
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

async function pattern(side: number, background: string, foreground: string): Promise<string> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}">
    <rect width="100%" height="100%" fill="${background}"/>
    <circle cx="${side / 3}" cy="${side / 2}" r="${side / 4}" fill="${foreground}"/>
    <path d="M0 ${side} L${side} ${side / 3} L${side} ${side} Z" fill="${foreground}" opacity="0.6"/>
  </svg>`;
  return (await sharp(Buffer.from(svg)).png().toBuffer()).toString('base64');
}
