import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import type { BackendChoice } from '../engine/index.js';
import { encodePng, prepareStylizeImages } from '../imageio/index.js';
import { loadEngine, type WeightsLoadState } from '../loadEngine.js';
import type { StylizeProgress } from '../../shared/stylizeProgress.js';
import type { StylizeOptions } from '../../shared/stylizeOptions.js';
import { etaSeconds, formatDuration, ProgressBar, progressModeFor, type ProgressMode } from './progressBar.js';

export interface StylizeJob {
  /** Paths (or bytes) of the images. */
  readonly content: Buffer | string;
  readonly styles: ReadonlyArray<Buffer | string>;
  /** A weight for each style image; equal weights when undefined. */
  readonly styleBlend: readonly number[] | undefined;
  readonly outputPath: string;
  readonly options: StylizeOptions;
  readonly backend: BackendChoice;
  readonly weightsFlag: string | undefined;
  /** Print the result as one JSON line on stdout (and nothing else there). */
  readonly json: boolean;
  readonly signal: AbortSignal;
}

/** The line `--json` prints, and what the plain summary shows. */
export interface JobReport {
  readonly width: number;
  readonly height: number;
  readonly iterations: number;
  readonly seconds: number;
  readonly secondsPerIteration: number;
  readonly backend: string;
  readonly contentLoss: number;
  readonly styleLoss: number;
}

/**
 * One style-transfer job, cheapest checks first: the images are decoded before the backend and the weights are
 * loaded, so a wrong path fails in well under a second. Writes the PNG and prints the report.
 */
export async function runStylizeJob(job: StylizeJob): Promise<JobReport> {
  const { options, signal } = job;
  const stderr = process.stderr;
  const mode = progressModeFor(stderr, job.json);

  const images = await prepareStylizeImages(job.content, job.styles, options);

  const say = (line: string): void => {
    if (mode !== 'silent') stderr.write(`gramstyle: ${line}\n`);
  };

  const download = weightsDownloadProgress(mode);
  const engine = await loadEngine({
    backend: job.backend,
    weightsFlag: job.weightsFlag,
    signal,
    onWeights: (state) => {
      download.onWeights(state);
      if (state.status === 'ready') say(`weights ${state.path}`);
    },
  });
  let result;
  const bar = new ProgressBar(stderr, mode, 'stylizing');
  try {
    say(`backend ${engine.backend.name}: ${engine.backend.device}`);
    signal.throwIfAborted();
    result = await engine.transfer.run({
      content: images.content,
      styles: images.styles.map((image, index) => ({ image, weight: job.styleBlend?.[index] ?? 1 })),
      options,
      signal,
      onProgress: ({ progress }) => bar.update(progress.iteration, progress.total, iterationDetail(progress)),
    });
  } finally {
    bar.finish();
    engine.dispose();
  }

  await mkdir(dirname(job.outputPath), { recursive: true });
  await writeFile(job.outputPath, await encodePng(result.image));

  const seconds = result.elapsedMs / 1000;
  return {
    width: result.image.width,
    height: result.image.height,
    iterations: result.iterations,
    seconds: round3(seconds),
    secondsPerIteration: round3(seconds / result.iterations),
    backend: engine.backend.name,
    contentLoss: result.contentLoss,
    styleLoss: result.styleLoss,
  };
}

/** Where the result went: the JSON line, or the path on stdout and a summary on stderr. */
export function printJobReport(report: JobReport, outputPath: string, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  process.stderr.write(
    `gramstyle: ${report.width}×${report.height}, ${report.iterations} iterations in ` +
      `${report.seconds < 60 ? `${report.seconds.toFixed(1)} s` : formatDuration(report.seconds)} ` +
      `(${report.secondsPerIteration.toFixed(2)} s/it on ${report.backend})\n`,
  );
  process.stdout.write(`${outputPath}\n`);
}

function iterationDetail(progress: StylizeProgress): string {
  const secondsPerIteration = progress.elapsedMs / 1000 / progress.iteration;
  const eta = progress.etaMs === null ? Number.POSITIVE_INFINITY : progress.etaMs / 1000;
  const scale = progress.scale && progress.scale.count > 1 ? `  ${progress.scale.width}×${progress.scale.height}` : '';
  // Timing first: a narrow terminal cuts the line's end.
  return (
    `${progress.iteration}/${progress.total}  ${secondsPerIteration.toFixed(2)} s/it  ETA ${formatDuration(eta)}${scale}  ` +
    `content ${progress.contentLoss?.toExponential(2)}  style ${progress.styleLoss?.toExponential(2)}`
  );
}

/** Shows a weights download on stderr: MB received, rate, ETA. */
export function weightsDownloadProgress(mode: ProgressMode): {
  onWeights: (state: WeightsLoadState) => void;
  finish: () => void;
} {
  const bar = new ProgressBar(process.stderr, mode, 'downloading VGG-19 weights');
  const startedAt = performance.now();
  const megabytes = (bytes: number) => (bytes / 1_000_000).toFixed(1);
  return {
    onWeights(state) {
      if (state.status !== 'downloading') {
        bar.finish();
        return;
      }
      const { received, total } = state;
      const seconds = (performance.now() - startedAt) / 1000;
      const rate = seconds > 0 ? `  ${megabytes(received / seconds)} MB/s` : '';
      const eta = total === undefined ? '' : `  ETA ${formatDuration(etaSeconds(received, total, seconds))}`;
      const amount = total === undefined ? megabytes(received) : `${megabytes(received)}/${megabytes(total)}`;
      bar.update(received, total, `${amount} MB${rate}${eta}`);
    },
    finish: () => bar.finish(),
  };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
