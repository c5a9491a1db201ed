/**
 * Load check of the helper (not a timed test): while a job runs, 50 clients poll health and the job's status at
 * 20 Hz each, as many open plugin panels would (10 Hz each, in two loops on two kept-alive connections), naming the
 * last preview they have (previewAfter) as the panel does. Each loop waits for its answer, then for the rest of its
 * period. Prints how much the job slowed down against the same job without load, how many answers the clients got
 * and how long each took (the helper paces a connection's repeated polls: helper/server/pollPacing.ts), how long the
 * helper's event loop was blocked at most, and then what one poll costs the helper in CPU time.
 *
 *   npm run load [-- --size 128 --iterations 60 --clients 50 --hz 20 --rounds 5 --weights FILE]
 *   npm run load -- --every-preview      the pollers ask without previewAfter (as before it existed), to compare
 *
 * Quiet and loaded runs alternate (--rounds pairs) and the median slowdown is the figure: on a shared machine, other
 * work comes and goes between two runs. The helper runs as its own process (`gramstyle serve`), as it does for users;
 * traffic goes to 127.0.0.1 only and stops with the job (or after --max-seconds).
 */
import { Agent, get } from 'node:http';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { jobStatusSchema, type JobStatus } from '../shared/protocol.js';
import { describeMachine, probeSummary, sleep, startServedHelper } from './servedHelper.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '128' },
    iterations: { type: 'string', default: '60' },
    clients: { type: 'string', default: '50' },
    hz: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '5' },
    'every-preview': { type: 'boolean', default: false },
    weights: { type: 'string' },
    'max-seconds': { type: 'string', default: '900' },
  },
});
const size = Number(values.size);
const iterations = Number(values.iterations);
const clients = Number(values.clients);
const hz = Number(values.hz);
const rounds = Number(values.rounds);
const deadline = Date.now() + Number(values['max-seconds']) * 1000;

console.log(`machine: ${describeMachine()}`);
const helper = await startServedHelper({ weights: values.weights });
const { url, headers } = helper;

try {
  const [content, style] = await Promise.all([pattern(size, '#2a6f97', '#f4d35e'), pattern(size, '#bc4b51', '#8cb369')]);
  const body = JSON.stringify({ content, style, options: { size, iterations } });

  // The pollers' requests go out through node:http on kept-alive connections, as a browser's do: undici's fetch cost
  // this process about 0.5 ms of CPU a request, so the load generator took more of the 2 cores than the helper did.
  // Each client has its own connection, as each open panel has.
  const newClientAgent = () => new Agent({ keepAlive: true, maxSockets: 1 });
  /** GET `path` with the token on `agent`'s connection (false: a connection of its own); the status code and body. */
  function pollGet(agent: Agent | false, path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      get(`${url}${path}`, { agent, headers }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        response.on('error', reject);
      }).on('error', reject);
    });
  }

  /** A client's view of a job: its status, asked with the iteration of the last preview it has (as the panel asks). */
  function jobPoller(agent: Agent, id: string): () => Promise<JobStatus> {
    let lastPreview: number | null = null;
    return async () => {
      const query = lastPreview === null || values['every-preview'] ? '' : `?previewAfter=${lastPreview}`;
      const response = await pollGet(agent, `/v1/jobs/${id}${query}`);
      if (response.status !== 200) throw new Error(`status answered ${response.status}`);
      const status = jobStatusSchema.parse(JSON.parse(response.body));
      if (status.preview) lastPreview = status.preview.iteration;
      return status;
    };
  }

  /** Submits the job and polls it (10 Hz, like the plugin) until it ends; returns its wall time in seconds. */
  async function runJob(onCreated: (id: string) => void = () => {}): Promise<number> {
    const startedAt = performance.now();
    const created = (await (await fetch(`${url}/v1/jobs`, { method: 'POST', headers, body })).json()) as { id: string };
    onCreated(created.id);
    const agent = newClientAgent();
    const poll = jobPoller(agent, created.id);
    try {
      for (;;) {
        const status = await poll();
        if (status.status === 'failed') throw new Error(`the job failed: ${status.error?.message}`);
        if (status.status !== 'queued' && status.status !== 'running') return (performance.now() - startedAt) / 1000;
        if (Date.now() > deadline) throw new Error('--max-seconds reached');
        await sleep(100);
      }
    } finally {
      agent.destroy();
    }
  }

  /** The job again, while `clients` pollers ask for health and its status at `hz` each. */
  async function runLoadedJob() {
    const latencies: number[] = [];
    let failures = 0;
    let loadRunning = true;
    let jobId = '';
    /**
     * One of a client's two loops: `ask` at `hz` / 2, each time after the answer to the last one has come. `ask`
     * says whether the answer was good, or null when it had nothing to ask yet.
     */
    async function pollLoop(offsetMs: number, ask: (agent: Agent) => Promise<boolean | null>): Promise<void> {
      await sleep(offsetMs);
      const agent = newClientAgent();
      const periodMs = 2000 / hz;
      while (loadRunning && Date.now() < deadline) {
        const startedAt = performance.now();
        const good = await ask(agent).catch(() => false);
        if (good === false) failures += 1;
        const elapsed = performance.now() - startedAt;
        if (good !== null) latencies.push(elapsed);
        await sleep(Math.max(0, periodMs - elapsed));
      }
      agent.destroy();
    }
    // Each client asks for health and for the job's status in two loops of its own, as the panel does (a timer for
    // the connection, another for the job); the browser gives each its connection while the other waits.
    const pollers = Array.from({ length: clients }, (_, client) => {
      const offsetMs = (1000 / hz) * (client / clients); // spread the clients over one period
      let pollJob: (() => Promise<JobStatus>) | undefined;
      return Promise.all([
        pollLoop(offsetMs, async (agent) => (await pollGet(agent, '/v1/health')).status === 200),
        pollLoop(offsetMs + 1000 / hz, async (agent) => {
          if (!jobId) return null;
          pollJob ??= jobPoller(agent, jobId);
          await pollJob();
          return true;
        }),
      ]);
    });
    const startedAt = Date.now();
    const clientCpuBefore = process.cpuUsage();
    const seconds = await runJob((id) => (jobId = id));
    loadRunning = false;
    await Promise.all(pollers);
    const { user, system } = process.cpuUsage(clientCpuBefore);
    // This process's CPU, in cores: what the clients cost the machine, as panels would cost it (they run on it too).
    const clientCores = (user + system) / 1e6 / ((Date.now() - startedAt) / 1000);
    return { seconds, latencies, failures, clientCores, ...probeSummary(helper.samples, startedAt, Date.now()) };
  }

  const asking = values['every-preview'] ? 'every status with the latest preview' : 'previews they have not seen';
  console.log(`helper at ${url}; job: ${size} px, ${iterations} iterations; ${clients} clients at ${hz} Hz, asking for ${asking}`);
  await runJob(); // warm-up: first-use compilation and the style cache
  const slowdowns: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const quietSeconds = await runJob();
    const loaded = await runLoadedJob();
    const slowdown = (loaded.seconds / quietSeconds - 1) * 100;
    slowdowns.push(slowdown);
    const latencies = loaded.latencies.sort((a, b) => a - b);
    const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
    console.log(
      `round ${round}: without load ${quietSeconds.toFixed(2)} s, with load ${loaded.seconds.toFixed(2)} s: ` +
        `slowdown ${slowdown.toFixed(1)} %; ${latencies.length} requests ` +
        `answered (${(latencies.length / loaded.seconds).toFixed(0)}/s), ${loaded.failures} failed, each answered after ` +
        `p50 ${percentile(0.5).toFixed(1)} ms, p99 ${percentile(0.99).toFixed(1)} ms (waits for its turn included); ` +
        `helper event loop blocked at most ${loaded.maxDelayMs.toFixed(0)} ms, busy ${(loaded.meanBusy * 100).toFixed(0)} % ` +
        `on average; the clients used ${loaded.clientCores.toFixed(2)} cores`,
    );
  }
  const median = [...slowdowns].sort((a, b) => a - b)[Math.floor(slowdowns.length / 2)]!;
  console.log(`slowdown: ${median.toFixed(1)} % (median of ${rounds} rounds; target < 10 %)`);

  // What one poll costs the helper, with no job running: its whole process's CPU time (the probe's) over as many
  // polls as 20 clients get answered in a few seconds, each poll on a connection of its own (a kept-alive connection's
  // repeated polls would wait for their turn; a client that does not keep its connection is answered at once).
  /** The helper's CPU time so far, from the probe's next sample. */
  const cpuAt = async (): Promise<number> => {
    const count = helper.samples.length;
    while (helper.samples.length === count) await sleep(20);
    return helper.samples.at(-1)!.cpuMicros;
  };
  let finishedJob = '';
  await runJob((id) => (finishedJob = id));
  for (const [what, path] of [
    ['health', '/v1/health'],
    ['job status', `/v1/jobs/${finishedJob}?previewAfter=${iterations}`],
  ] as const) {
    const cpuBefore = await cpuAt();
    const until = performance.now() + 4000;
    let answered = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (performance.now() < until) {
          if ((await pollGet(false, path)).status !== 200) throw new Error(`${path} answered an error`);
          answered += 1;
        }
      }),
    );
    const micros = ((await cpuAt()) - cpuBefore) / answered;
    console.log(
      `${what}: ${answered} polls in 4 s, each on a new connection; the helper's CPU ${micros.toFixed(0)} µs a poll ` +
        `(every thread; no job running)`,
    );
  }
  console.log(`machine at the end: ${describeMachine()}`);
} finally {
  await helper.close();
}

async function pattern(side: number, background: string, foreground: string): Promise<string> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}">
    <rect width="100%" height="100%" fill="${background}"/>
    <circle cx="${side / 3}" cy="${side / 2}" r="${side / 4}" fill="${foreground}"/>
    <path d="M0 ${side} L${side} ${side / 3} L${side} ${side} Z" fill="${foreground}" opacity="0.6"/>
  </svg>`;
  return (await sharp(Buffer.from(svg)).png().toBuffer()).toString('base64');
}
