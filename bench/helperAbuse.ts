/**
 * What unauthenticated traffic costs the helper (a measurement, not a timed test): requests as a hostile web page or
 * a careless program would send them, without the token, in phases of a few seconds, against `gramstyle serve` in its
 * own process with its engine loaded. For each phase it prints the answers, the longest the helper's event loop was
 * blocked (measured inside the helper), the slowest health answer a bystander got, and how far the helper's memory
 * rose above where it was idle. It ends with PASS when no phase blocked the loop for 100 ms or grew memory by 100 MB.
 *
 *   npm run abuse [-- --seconds 5 --requests 2000 --weights FILE]
 *
 * Traffic goes to 127.0.0.1 only; each phase stops after --seconds or --requests, whichever comes first.
 */
import { setMaxListeners } from 'node:events';
import { get } from 'node:http';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import {
  describeMachine,
  megabytes,
  nextSample,
  probeSummary,
  sleep,
  startIdleProbe,
  startServedHelper,
  type ServedHelper,
} from './servedHelper.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, requests: { type: 'string', default: '2000' }, weights: { type: 'string' } },
});
const phaseMs = Number(values.seconds) * 1000;
const maxRequestsPerPhase = Number(values.requests);
const LIMITS = { delayMs: 100, rssBytes: 100 * 2 ** 20 };

/**
 * One hostile request on its own connection, given the helper's URL and the phase's end. Resolves to the answer's
 * status, or to how the connection ended without one.
 */
type Attack = (url: URL, phaseOver: AbortSignal) => Promise<string>;

interface Sending {
  readonly body?: Buffer;
  /** How many times the body is written, back to back. */
  readonly times?: number;
  /** Sends the head a byte at a time, this many ms apart, instead of at once. */
  readonly trickleMs?: number;
}

/**
 * Writes `head`, then the body as fast as the helper takes it, and resolves with the answer's status, 'closed' or
 * 'reset' when the helper ended the connection without one, or 'held open' if the phase ended first.
 */
function send(url: URL, phaseOver: AbortSignal, head: string, { body = Buffer.alloc(0), times = 1, trickleMs = 0 }: Sending = {}): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    let answer = '';
    let done = false;
    let trickle: NodeJS.Timeout | undefined;
    const finish = (outcome: string): void => {
      if (done) return;
      done = true;
      clearInterval(trickle);
      phaseOver.removeEventListener('abort', holdOpen);
      socket.destroy();
      resolve(outcome);
    };
    const holdOpen = (): void => finish('held open');
    phaseOver.addEventListener('abort', holdOpen);
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      if (status && answer.includes('\r\n\r\n')) finish(status[1]!);
    });
    socket.on('error', () => finish('reset'));
    socket.on('close', () => finish('closed'));
    if (trickleMs > 0) {
      let sent = 0;
      trickle = setInterval(() => socket.write(head[sent++] ?? ''), trickleMs);
      return;
    }
    socket.write(head);
    let written = 0;
    const writeMore = (): void => {
      while (!done && written < times) {
        written += 1;
        if (!socket.write(body)) {
          socket.once('drain', writeMore);
          return;
        }
      }
    };
    writeMore();
  });
}

function requestHead(url: URL, method: string, path: string, headers: Record<string, string | number>): string {
  const lines = Object.entries({ Host: url.host, ...headers }).map(([name, value]) => `${name}: ${value}`);
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

const MB = 2 ** 20;
const nestedArrays = Buffer.from('[],'.repeat(MB / 3 + 1)).subarray(0, MB); // 1 MB of `[],[],…`, sent 80 times
const newlines = Buffer.from(`{"content": "${'\\n'.repeat(100_000)}!", "style": "AAAA"}`);
const gzipBomb = gzipSync(Buffer.alloc(64 * MB, ' '));
const jsonMegabyte = Buffer.from(`{"content": "${'A'.repeat(MB - 20)}"}`);

const phases: Array<{ name: string; concurrency: number; attack: Attack | null }> = [
  { name: 'idle (the reference)', concurrency: 0, attack: null },
  {
    name: 'POST 80 MB of nested JSON arrays',
    concurrency: 8,
    attack: (url, over) =>
      send(url, over, requestHead(url, 'POST', '/v1/jobs', { 'Content-Type': 'application/json', 'Content-Length': 80 * MB }), {
        body: nestedArrays,
        times: 80,
      }),
  },
  {
    name: 'POST declaring 10 GB, sending 1 MB chunks',
    concurrency: 8,
    attack: (url, over) =>
      send(url, over, requestHead(url, 'POST', '/v1/jobs', { 'Content-Type': 'application/json', 'Content-Length': 10 * 1024 * MB }), {
        body: jsonMegabyte,
        times: 10_240,
      }),
  },
  {
    name: 'POST 100 KB of base64 newlines and a bad character',
    concurrency: 8,
    attack: (url, over) =>
      send(url, over, requestHead(url, 'POST', '/v1/jobs', { 'Content-Type': 'application/json', 'Content-Length': newlines.length }), {
        body: newlines,
      }),
  },
  {
    name: 'POST a gzip bomb (64 MB inflated)',
    concurrency: 8,
    attack: (url, over) =>
      send(
        url,
        over,
        requestHead(url, 'POST', '/v1/jobs', { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'Content-Length': gzipBomb.length }),
        { body: gzipBomb },
      ),
  },
  {
    name: 'wrong tokens and foreign Hosts, 1 MB bodies',
    concurrency: 16,
    attack: (url, over) => {
      const foreign = Math.random() < 0.5;
      const headers: Record<string, string> = foreign ? { Host: `evil.example:${url.port}` } : { Authorization: `Bearer ${'0'.repeat(64)}` };
      const head = requestHead(url, 'POST', '/v1/jobs', { 'Content-Type': 'application/json', 'Content-Length': jsonMegabyte.length, ...headers });
      return send(url, over, head, { body: jsonMegabyte });
    },
  },
  { name: 'public health, back to back', concurrency: 50, attack: (url, over) => send(url, over, requestHead(url, 'GET', '/v1/health', {})) },
  {
    name: 'CORS preflights, back to back',
    concurrency: 50,
    attack: (url, over) =>
      send(
        url,
        over,
        requestHead(url, 'OPTIONS', '/v1/jobs', { Origin: 'null', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Private-Network': 'true' }),
      ),
  },
  {
    name: 'headers sent a byte every 100 ms',
    concurrency: 200,
    attack: (url, over) => send(url, over, requestHead(url, 'GET', '/v1/health', { 'X-Padding': 'x'.repeat(200) }), { trickleMs: 100 }),
  },
  // What the machine's other work alone does to the figures, and what memory stayed.
  { name: 'idle again', concurrency: 0, attack: null },
];

/**
 * A bystander: the public health every 50 ms; the slowest answer it got. Each on a connection of its own: on a kept
 * connection the helper would make the repeats wait for their turn (pollPacing.ts), and this asks how fast it answers.
 */
async function bystander(url: string, until: () => boolean): Promise<number> {
  let slowest = 0;
  while (!until()) {
    const startedAt = performance.now();
    await new Promise<void>((answered, failed) => {
      get(`${url}/v1/health`, { agent: false }, (response) => response.resume().on('end', answered).on('error', failed)).on('error', failed);
    });
    slowest = Math.max(slowest, performance.now() - startedAt);
    await sleep(50);
  }
  return slowest;
}

async function runPhase(helper: ServedHelper, idle: ReturnType<typeof startIdleProbe>, phase: (typeof phases)[number]) {
  const url = new URL(helper.url);
  await nextSample(helper);
  const startedAt = Date.now();
  const over = AbortSignal.timeout(phaseMs);
  setMaxListeners(phase.concurrency + 1, over); // each attacker's connection listens for the phase's end
  const outcomes = new Map<string, number>();
  let requests = 0;
  const attackers = Array.from({ length: phase.concurrency }, async () => {
    while (phase.attack && !over.aborted && requests < maxRequestsPerPhase) {
      requests += 1;
      const outcome = await phase.attack(url, over);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  });
  const [slowestHealthMs] = await Promise.all([bystander(helper.url, () => over.aborted), ...attackers]);
  await nextSample(helper);
  const idleMaxDelayMs = probeSummary(idle.samples, startedAt, Date.now()).maxDelayMs;
  return { requests, outcomes, slowestHealthMs, idleMaxDelayMs, ...probeSummary(helper.samples, startedAt, Date.now()) };
}

console.log(`machine: ${describeMachine()}`);
const helper = await startServedHelper({ weights: values.weights });
const idle = startIdleProbe();
const verdicts: Array<'ok' | 'FAIL' | 'busy machine'> = [];
try {
  let baselineRss = 0;
  for (const phase of phases) {
    const result = await runPhase(helper, idle, phase);
    if (baselineRss === 0) baselineRss = result.peakRssBytes;
    const growth = result.peakRssBytes - baselineRss;
    // A delay the idle process beside the helper saw too was the machine's, not the helper's: no verdict on it.
    const delayOk = result.maxDelayMs < LIMITS.delayMs;
    const verdict = growth >= LIMITS.rssBytes || (!delayOk && result.idleMaxDelayMs < LIMITS.delayMs / 2) ? 'FAIL' : delayOk ? 'ok' : 'busy machine';
    verdicts.push(verdict);
    const answers = [...result.outcomes].map(([outcome, count]) => `${count}× ${outcome}`).join(', ') || 'none';
    console.log(
      `${verdict}: ${phase.name}: ${result.requests} requests (${answers}); event loop blocked at most ` +
        `${result.maxDelayMs.toFixed(0)} ms (busy at most ${(result.maxBusy * 100).toFixed(0)} %; an idle process ` +
        `beside it: ${result.idleMaxDelayMs.toFixed(0)} ms); memory ${megabytes(result.peakRssBytes)} ` +
        `(${growth >= 0 ? '+' : ''}${megabytes(growth)}); slowest health answer ${result.slowestHealthMs.toFixed(0)} ms`,
    );
  }
} finally {
  idle.stop();
  await helper.close();
}
console.log(`machine at the end: ${describeMachine()}`);
const limits = `block the helper's event loop for ${LIMITS.delayMs} ms or grow its memory by ${megabytes(LIMITS.rssBytes)}`;
if (verdicts.includes('FAIL')) console.log(`FAIL: some unauthenticated traffic did ${limits}`);
else if (verdicts.includes('busy machine')) console.log(`INCONCLUSIVE: the machine itself delayed an idle process too much to tell whether traffic can ${limits}; run again on a quieter machine`);
else console.log(`PASS: no unauthenticated traffic did ${limits}`);
process.exitCode = verdicts.every((verdict) => verdict === 'ok') ? 0 : 1;
