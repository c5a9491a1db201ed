/**
 * npm run bench [-- --json] [--sizes 128,256,512] [--backend NAME] [--steps N] [--torch] [--job-shaped]
 *                 [--weights FILE]
 * npm run bench -- --quality [--json] [--backend NAME] [--quality-size 512] [--reference-iterations 200]
 *                            [--multi-iterations 200] [--gram-target D]
 * npm run bench -- --job [--json] [--backend NAME] [--quality-size 512]
 *
 * Speed: per size, in a fresh process each (peak memory is per process), the median seconds per optimization step,
 * GFLOP/s, peak memory and the time to a job's first preview; --torch times ../shared/bench/torch_step.py (the
 * same step in PyTorch on this CPU) right after each size, for a ratio measured under the same load. Steps run on
 * square crops (the FLOPs of size × size, as the PyTorch reference); --job-shaped runs them on the photo's own
 * aspect ratio instead (a 1024 px job is 1024 × 768), which is what a user's job needs in memory.
 * Job: the default Standard job (512 px, default options) end to end on each real image pair, the engine already
 * loaded: its seconds (per scale too), first preview, peak memory and the result's distances to content and style.
 * Quality: at 512 px, on two real image pairs, how long coarse-to-fine takes to reach the single-scale result's quality;
 * unless told otherwise both jobs run a default job's 200 iterations, so the reference is what a user gets with
 * multiScale off. The two jobs of a pair take turns iteration by iteration and each counts only its own turns, so the
 * machine's drift slows both alike.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { distanceJudge, isBackendChoice, type BackendChoice } from '../helper/engine/index.js';
import { stylizeOptionsSchema } from '../shared/stylizeOptions.js';
import { loadEngine } from '../helper/loadEngine.js';
import { defaultWeightsPath, loadImage, sharedDir, sharedImage } from './benchAssets.js';
import { measureDefaultJob, measureSize, type SizeMeasurement } from './stepMeasurement.js';
import { timeToQuality, type QualityResult } from './timeToQuality.js';

const run = promisify(execFile);

const QUALITY_PAIRS = [
  { content: sharedImage('golden_gate.jpg'), style: sharedImage('starry_night.jpg') },
  { content: sharedImage('hoovertowernight.jpg'), style: sharedImage('the_scream.jpg') },
];

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    sizes: { type: 'string', default: '128,256,512' },
    backend: { type: 'string', default: 'auto' },
    steps: { type: 'string', default: '3' },
    torch: { type: 'boolean', default: false },
    'job-shaped': { type: 'boolean', default: false },
    weights: { type: 'string' },
    quality: { type: 'boolean', default: false },
    job: { type: 'boolean', default: false },
    'quality-size': { type: 'string', default: '512' },
    'reference-iterations': { type: 'string', default: String(stylizeOptionsSchema.parse({}).iterations) },
    'multi-iterations': { type: 'string' },
    'gram-target': { type: 'string' },
    /** Internal: measure one size in this process and print its JSON line. */
    'measure-size': { type: 'string' },
  },
});

const backend = args.backend;
if (!isBackendChoice(backend)) throw new Error(`--backend: unknown backend ${backend}`);
const weightsPath = defaultWeightsPath(args.weights);
const steps = positiveInteger(args.steps, '--steps');
const log = (line: string): void => void process.stderr.write(`${line}\n`);

if (args['measure-size'] !== undefined) {
  process.stdout.write(`${JSON.stringify(await measureInThisProcess(positiveInteger(args['measure-size'], 'size')))}\n`);
} else if (args.quality) {
  await qualityComparison();
} else if (args.job) {
  await defaultJobs();
} else {
  await speed();
}

async function measureInThisProcess(size: number): Promise<SizeMeasurement & { device: string; backend: string }> {
  const engine = await loadEngine({ backend: backend as BackendChoice, weightsFlag: weightsPath });
  const content = sharedImage('golden_gate.jpg');
  const style = sharedImage('starry_night.jpg');
  const job = { content: await loadImage(content, size), style: await loadImage(style, size) };
  const square = { content: await loadImage(content, size, true), style: await loadImage(style, size, true) };
  const images = { steps: args['job-shaped'] ? job : square, job };
  const measurement = await measureSize(engine.network, images, size, steps);
  return { ...measurement, backend: engine.backend.name, device: engine.backend.device };
}

interface TorchStep {
  readonly median_s: number;
  readonly gflops: number;
}

async function torchStep(size: number): Promise<TorchStep | undefined> {
  const script = resolve(sharedDir, 'bench', 'torch_step.py');
  if (!existsSync(script)) {
    log(`--torch: ${script} is missing`);
    return undefined;
  }
  try {
    const { stdout } = await run('/usr/bin/python3', [script, '--size', String(size), '--steps', String(steps)], {
      maxBuffer: 1 << 20,
    });
    return JSON.parse(stdout.trim().split('\n').pop()!) as TorchStep;
  } catch (error) {
    log(`--torch: the PyTorch reference failed: ${(error as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

async function speed(): Promise<void> {
  const sizes = args.sizes.split(',').map((size) => positiveInteger(size, '--sizes'));
  const results: Array<SizeMeasurement & { torchSecondsPerStep?: number; torchRatio?: number }> = [];
  const failures: Array<{ size: number; error: string }> = [];
  let selected = { backend: backend as string, device: '' };
  for (const size of sizes) {
    log(`measuring ${size} px…`);
    // A process per size: peak memory is a process's lifetime peak, and wasm memory never shrinks.
    const childArgs = ['--measure-size', String(size), '--backend', backend, '--steps', String(steps), '--weights', weightsPath];
    if (args['job-shaped']) childArgs.push('--job-shaped');
    let child: { stdout: string };
    try {
      child = await run(process.execPath, [fileURLToPath(import.meta.url), ...childArgs], { maxBuffer: 1 << 20 });
    } catch (error) {
      // wasm's heap cannot grow past 4 GiB: a size that needs more aborts its process, not the benchmark.
      const stderr = String((error as { stderr?: string }).stderr ?? '');
      const outOfMemory = /memory access out of bounds|out of memory|Aborted|4 GiB heap/i.test(stderr);
      const reason = outOfMemory ? 'out of memory' : 'failed';
      log(`${size} px: ${reason}: ${stderr.split('\n').find((line) => /Error/.test(line)) ?? (error as Error).message}`);
      failures.push({ size, error: reason });
      continue;
    }
    const line = child.stdout.trim().split('\n').pop()!;
    const { backend: name, device, ...measurement } = JSON.parse(line) as SizeMeasurement & { backend: string; device: string };
    selected = { backend: name, device };
    const torch = args.torch ? await torchStep(size) : undefined;
    results.push(
      torch
        ? { ...measurement, torchSecondsPerStep: torch.median_s, torchRatio: measurement.secondsPerStep / torch.median_s }
        : measurement,
    );
  }
  if (args.json) {
    const json = { backend: selected.backend, results: results.map(rounded), ...(failures.length ? { failures } : {}) };
    process.stdout.write(`${JSON.stringify(json)}\n`);
    return;
  }
  console.log(`backend ${selected.backend}: ${selected.device}`);
  console.log(`machine: ${machine()}`);
  console.log('size  s/step  GFLOP/s  peak RSS MB  peak tensors MB  first preview s  PyTorch s/step  ratio');
  for (const r of results) {
    console.log(
      [
        String(r.size).padStart(4),
        r.secondsPerStep.toFixed(3).padStart(7),
        r.gflops.toFixed(1).padStart(8),
        r.peakRssMb.toFixed(0).padStart(12),
        r.peakTensorMb.toFixed(0).padStart(16),
        r.firstPreviewSeconds.toFixed(2).padStart(16),
        (r.torchSecondsPerStep?.toFixed(3) ?? '-').padStart(15),
        (r.torchRatio ? `${r.torchRatio.toFixed(2)}×` : '-').padStart(6),
      ].join(' '),
    );
  }
  for (const failure of failures) console.log(`${String(failure.size).padStart(4)}  ${failure.error}`);
}

async function qualityComparison(): Promise<void> {
  const engine = await loadEngine({ backend: backend as BackendChoice, weightsFlag: weightsPath });
  const referenceIterations = positiveInteger(args['reference-iterations'], '--reference-iterations');
  const settings = {
    size: positiveInteger(args['quality-size'], '--quality-size'),
    referenceIterations,
    multiScaleIterations: args['multi-iterations']
      ? positiveInteger(args['multi-iterations'], '--multi-iterations')
      : referenceIterations,
    gramTarget: args['gram-target'] === undefined ? undefined : Number(args['gram-target']),
    log,
  };
  log(`backend ${engine.backend.name}: ${engine.backend.device}; machine: ${machine()}`);
  const results: QualityResult[] = [];
  for (const pair of QUALITY_PAIRS) {
    const result = await timeToQuality(engine.network, pair, settings);
    results.push(result);
    log(JSON.stringify({ ...result, singleScale: { ...result.singleScale, trajectory: undefined }, multiScale: { ...result.multiScale, trajectory: undefined } }));
  }
  engine.dispose();
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ backend: engine.backend.name, quality: results })}\n`);
    return;
  }
  for (const r of results) {
    const seconds = (value: number | null): string => (value === null ? 'never' : `${value.toFixed(1)} s`);
    const line = (label: string, run: QualityResult['singleScale']): string =>
      `  ${label}: Gram ≤ target after ${seconds(run.secondsToGramTarget)}; single-scale quality (both distances ` +
      `within 5%) after ${seconds(run.secondsToReferenceQuality)}, at iteration ${run.iterations}: Gram distance ` +
      `${run.distances.gram.toFixed(4)}, content distance ${run.distances.content.toFixed(4)}; whole job ` +
      `${seconds(run.totalSeconds)}`;
    console.log(
      `${r.pair} at ${r.size} px, Gram target ${r.gramTarget.toFixed(4)}; multi-scale ${r.schedule}; ` +
        `both jobs, taking turns: ${seconds(r.wallSeconds)}`,
    );
    console.log(line('single-scale', r.singleScale));
    console.log(line('multi-scale ', r.multiScale));
    const { secondsToReferenceQuality: multiSeconds } = r.multiScale;
    const singleSeconds = r.singleScale.secondsToReferenceQuality!;
    if (multiSeconds !== null) {
      console.log(`  multi-scale reached single-scale quality in ${((100 * multiSeconds) / singleSeconds).toFixed(1)}% of single-scale's time (target: at most 50%)`);
    }
  }
}

async function defaultJobs(): Promise<void> {
  const engine = await loadEngine({ backend: backend as BackendChoice, weightsFlag: weightsPath });
  const size = positiveInteger(args['quality-size'], '--quality-size');
  log(`backend ${engine.backend.name}: ${engine.backend.device}; machine: ${machine()}`);
  const results = [];
  for (const pair of QUALITY_PAIRS) {
    const images = { content: await loadImage(pair.content, size), style: await loadImage(pair.style, size) };
    const { result, ...measured } = await measureDefaultJob(engine.network, images);
    const judge = await distanceJudge(engine.network, images.content, images.style);
    const distances = await judge(result);
    judge.dispose();
    const name = `${pair.content.split('/').pop()} × ${pair.style.split('/').pop()}`;
    results.push({ pair: name, ...measured, distances });
    if (!args.json) {
      const scales = Object.entries(measured.secondsPerScale).map(([scale, seconds]) => `${scale} ${seconds.toFixed(1)} s`).join(', ');
      console.log(
        `${name}: ${measured.width}×${measured.height}, ${measured.iterations} iterations in ${measured.seconds.toFixed(1)} s ` +
          `(${scales}); first preview after ${measured.firstPreviewSeconds.toFixed(2)} s; peak RSS ${measured.peakRssMb.toFixed(0)} MB; ` +
          `Gram distance ${distances.gram.toFixed(4)}, content distance ${distances.content.toFixed(4)}`,
      );
    }
  }
  engine.dispose();
  if (args.json) process.stdout.write(`${JSON.stringify({ backend: engine.backend.name, jobs: results })}\n`);
}

function machine(): string {
  const cores = cpus();
  return `${cores[0]?.model.trim() ?? 'unknown CPU'}, ${cores.length} logical cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

function rounded<T extends object>(result: T): T {
  return Object.fromEntries(
    Object.entries(result).map(([key, value]) => [key, typeof value === 'number' ? Number(value.toPrecision(4)) : value]),
  ) as T;
}

function positiveInteger(text: string, what: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${what}: expected a positive integer, got ${text}`);
  return value;
}
