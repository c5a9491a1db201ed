import { stylizeOptionsSchema } from '../shared/stylizeOptions.js';
import {
  distanceJudge,
  scaleSchedule,
  StyleTransfer,
  type Distances,
  type RgbImage,
  type Vgg19Features,
} from '../helper/engine/index.js';
import { loadImage } from './benchAssets.js';

/**
 * Time to quality: how long single-scale and coarse-to-fine optimization take to bring the relative Gram distance to
 * the style (mean over the five style layers of ‖G(out) − G(style)‖ / ‖G(style)‖, as in the engine's tests) below one
 * target, on real images. The target is the distance single-scale reaches after `referenceIterations` (or a fixed
 * --gram-target); both results are then judged by the same two distances, measured on the rendered 8-bit images.
 */
export interface QualityPair {
  readonly content: string;
  readonly style: string;
}

export interface QualitySettings {
  readonly size: number;
  readonly referenceIterations: number;
  /** Iterations of the multi-scale job; it is stopped as soon as it reaches the target. */
  readonly multiScaleIterations: number;
  readonly gramTarget: number | undefined;
  readonly log: (line: string) => void;
}

export interface TrajectoryPoint {
  readonly iteration: number;
  readonly seconds: number;
  /** At the output size only (coarse scales are measured against coarse targets and are left out). */
  readonly gram: number;
  readonly content: number;
}

export interface RunToTarget {
  /** Seconds from pressing Stylize until the Gram distance first fell below the target; null: never. */
  readonly secondsToGramTarget: number | null;
  /** Seconds until both distances were within 5% of the single-scale result's (multi-scale only); null: never. */
  readonly secondsToReferenceQuality: number | null;
  readonly iterations: number;
  /** Measured on the rendered image where the run stopped. */
  readonly distances: Distances;
  readonly trajectory: readonly TrajectoryPoint[];
}

export interface QualityResult {
  readonly pair: string;
  readonly size: number;
  readonly gramTarget: number;
  readonly schedule: string;
  readonly singleScale: RunToTarget;
  readonly multiScale: RunToTarget;
}

/** The distances of the optimizer's own losses: both terms are relative squared errors, these are their roots. */
function gramDistanceOfLosses(styleLayerLosses: readonly number[]): number {
  return styleLayerLosses.reduce((sum, loss) => sum + Math.sqrt(loss), 0) / styleLayerLosses.length;
}

/** "Within 5%" of the reference, as the issue defines the single-scale result's quality. */
const QUALITY_TOLERANCE = 1.05;

export async function timeToQuality(
  network: Vgg19Features,
  pair: QualityPair,
  settings: QualitySettings,
): Promise<QualityResult> {
  const { size, log } = settings;
  const content = await loadImage(pair.content, size);
  const style = await loadImage(pair.style, size);
  const transfer = new StyleTransfer(network);
  const judge = distanceJudge(network, content, style);
  const name = `${basename(pair.content)} × ${basename(pair.style)}`;

  try {
    log(`${name}: single-scale, ${settings.referenceIterations} iterations at ${size} px`);
    const single = await runUntil(transfer, content, style, {
      iterations: settings.referenceIterations,
      multiScale: 'off',
      log,
      stopWhen: () => false,
    });
    const reference = single.trajectory[single.trajectory.length - 1]!;
    const gramTarget = settings.gramTarget ?? reference.gram;
    const multiOptions = { iterations: settings.multiScaleIterations, multiScale: 'on' as const };
    const schedule = scaleSchedule(content, multiOptions.iterations, 'on')
      .map((scale) => `${Math.max(scale.width, scale.height)} px × ${scale.iterations}`)
      .join(' → ');
    log(`${name}: multi-scale (${schedule}) until Gram ≤ ${(QUALITY_TOLERANCE * reference.gram).toFixed(4)} and content ≤ ${(QUALITY_TOLERANCE * reference.content).toFixed(4)}`);
    const multi = await runUntil(transfer, content, style, {
      ...multiOptions,
      log,
      stopWhen: (point) =>
        point.gram <= QUALITY_TOLERANCE * reference.gram && point.content <= QUALITY_TOLERANCE * reference.content,
    });
    const firstBelow = (run: RunOutcome): number | null =>
      run.trajectory.find((point) => point.gram <= gramTarget)?.seconds ?? null;
    return {
      pair: name,
      size,
      gramTarget,
      schedule,
      singleScale: {
        secondsToGramTarget: firstBelow(single),
        secondsToReferenceQuality: reference.seconds,
        iterations: single.iterations,
        distances: judge(single.image),
        trajectory: single.trajectory,
      },
      multiScale: {
        secondsToGramTarget: firstBelow(multi),
        secondsToReferenceQuality: multi.stoppedEarly ? multi.trajectory[multi.trajectory.length - 1]!.seconds : null,
        iterations: multi.iterations,
        distances: judge(multi.image),
        trajectory: multi.trajectory,
      },
    };
  } finally {
    judge.dispose();
  }
}

interface RunOutcome {
  readonly iterations: number;
  readonly image: RgbImage;
  readonly trajectory: readonly TrajectoryPoint[];
  readonly stoppedEarly: boolean;
}

/** Runs a job, recording its distances at the output size, and stops it early once `stopWhen` holds. */
async function runUntil(
  transfer: StyleTransfer,
  content: RgbImage,
  style: RgbImage,
  job: {
    iterations: number;
    multiScale: 'on' | 'off';
    log: (line: string) => void;
    stopWhen: (point: TrajectoryPoint) => boolean;
  },
): Promise<RunOutcome> {
  const controller = new AbortController();
  const trajectory: TrajectoryPoint[] = [];
  let outcome: RunOutcome | undefined;
  const options = stylizeOptionsSchema.parse({
    size: Math.max(content.width, content.height),
    iterations: job.iterations,
    multiScale: job.multiScale,
  });
  try {
    await transfer.run({
      content,
      style,
      options,
      signal: controller.signal,
      onProgress: (event) => {
        const point = {
          iteration: event.iteration,
          seconds: event.elapsedMs / 1000,
          gram: gramDistanceOfLosses(event.styleLayerLosses ?? []),
          content: Math.sqrt(event.contentLoss),
        };
        const scale = event.scale ? `${event.scale.width}×${event.scale.height}` : '';
        job.log(
          `  ${event.iteration}/${event.total} ${scale} gram ${point.gram.toFixed(4)} content ${point.content.toFixed(4)} ` +
            `${point.seconds.toFixed(1)} s`,
        );
        if (event.scale && event.scale.index < event.scale.count - 1) return;
        trajectory.push(point);
        const stop = job.stopWhen(point);
        if (stop || event.iteration === event.total) {
          outcome = { iterations: event.iteration, image: event.preview(), trajectory, stoppedEarly: stop };
          if (stop) controller.abort(new Error('reached the reference quality'));
        }
      },
    });
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
  return outcome!;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
