/**
 * Loaded into a helper started by a bench (`node --import helperProbe.js bin/gramstyle.js serve`), never into a
 * user's: five times a second it writes one line to stderr with how long the main thread's event loop was blocked at
 * most since the last line, how busy the loop was, the process's resident memory and the CPU time all its threads
 * have used. servedHelper.ts reads these lines.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';
import { PROBE_INTERVAL_MS, PROBE_PREFIX, type ProbeSample } from './servedHelper.js';

// Worker threads inherit --import: the engine's thread blocks its own loop for seconds by design (see
// engineWorker.ts), and only the main thread's loop answers requests.
if (isMainThread) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let utilization = performance.eventLoopUtilization();
  setInterval(() => {
    const busy = performance.eventLoopUtilization(utilization).utilization;
    utilization = performance.eventLoopUtilization();
    const { user, system } = process.cpuUsage();
    const sample: ProbeSample = {
      at: Date.now(),
      maxDelayMs: delay.max / 1e6,
      busy,
      rssBytes: process.memoryUsage.rss(),
      cpuMicros: user + system,
    };
    delay.reset();
    process.stderr.write(`${PROBE_PREFIX}${JSON.stringify(sample)}\n`);
  }, PROBE_INTERVAL_MS).unref();
}
