import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { renderSampleFrames } from '../samples/frames.js';
import { parseJobArgs } from './jobArgs.js';
import { printJobReport, runStylizeJob } from './runJob.js';

/** Small enough to finish in about 90 seconds on the wasm backend of a 2-core machine. */
export const DEMO_SIZE = 192;
export const DEMO_ITERATIONS = 60;
export const DEMO_OUTPUT = 'gramstyle-demo.png';

/** gramstyle demo [-o out.png] [options]: stylizes Gramstyle's own sample content frame with its style frame. */
export async function demoCommand(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const args = parseJobArgs(argv, {
    command: 'demo',
    positionals: [],
    // The sample style frame.
    styleCount: () => 1,
    outputRequired: false,
    defaults: { size: DEMO_SIZE, iterations: DEMO_ITERATIONS },
  });
  const outputPath = resolve(args.outputPath ?? DEMO_OUTPUT);
  const frames = await renderSampleFrames(await mkdtemp(join(tmpdir(), 'gramstyle-demo-')));
  if (!args.json) process.stderr.write(`gramstyle: sample frames ${frames.content} and ${frames.style}\n`);
  const report = await runStylizeJob({ ...args, content: frames.content, styles: [frames.style], outputPath, signal });
  printJobReport(report, outputPath, args.json);
  return 0;
}
