import { stylizeOptionsSchema } from '../shared/stylizeOptions.js';
import {
  distanceJudge,
  oneStyle,
  scaleSchedule,
  StyleTransfer,
  type Distances,
  type RgbImage,
  type GatysNetwork,
} from '../helper/engine/index.js';
import { loadImage } from './benchAssets.js';

/**
 * Time to quality: how long single-scale and coarse-to-fine optimization take to reach the single-scale result's
 * quality, on real images. Quality is two distances, measured as in the engine's tests (distanceJudge) on the rendered
 * 8-bit image of every iteration at the output size, which is what a user would get if the job ended there: the
 * relative Gram distance to the style (mean over the five style layers of ‖G(out) − G(style)‖ / ‖G(style)‖) and the
 * relative conv4_2 distance to the content. The reference is the single-scale result after `referenceIterations`;
 * multi-scale has reached it when both its distances are within 5% of the reference's.
 *
 * The two jobs run at the same time and take turns, one iteration each (see TurnTaking), and each is timed by its own
 * turns only. The machine's speed drifts by several percent over the half hour a 512 px job takes; run one after the
 * other, the two jobs would be timed on different machines. Taking turns, they share every drift alike.
 */
export interface QualityPair {
  readonly content: string;
  readonly style: string;
}

export interface QualitySettings {
  readonly size: number;
  readonly referenceIterations: number;
  /** Iterations of the multi-scale job, which runs to its end; its time to quality is read off its trajectory. */
  readonly multiScaleIterations: number;
  /** Also report when each job's Gram distance first fell below this; by default the reference's Gram distance. */
  readonly gramTarget: number | undefined;
  readonly log: (line: string) => void;
}

/** One iteration at the output size (coarse scales have coarse targets and are left out). */
export interface TrajectoryPoint {
  readonly iteration: number;
  /** The job's own seconds: the time of its turns up to the end of this iteration. */
  readonly seconds: number;
  /** The distances of the rendered image: the measure of quality. */
  readonly rendered: Distances;
  /**
   * The same distances from the optimizer's own losses, before rendering. The optimizer keeps the pixels in 0–255,
   * so these differ from `rendered` only by the rounding to 8 bits; they show if that ever stops being so.
   */
  readonly losses: Distances;
}

export interface RunToTarget {
  /** Own seconds from pressing Stylize until the Gram distance first fell below the target; null: never. */
  readonly secondsToGramTarget: number | null;
  /** Own seconds until both distances were within 5% of the reference's; null: never. */
  readonly secondsToReferenceQuality: number | null;
  /** The iteration at which it reached the reference's quality (the last one for single-scale, or when never). */
  readonly iterations: number;
  /** Of the rendered image of that iteration. */
  readonly distances: Distances;
  /** Own seconds of the whole job. */
  readonly totalSeconds: number;
  readonly trajectory: readonly TrajectoryPoint[];
}

export interface QualityResult {
  readonly pair: string;
  readonly size: number;
  readonly gramTarget: number;
  readonly schedule: string;
  /** Wall-clock seconds for both jobs together. */
  readonly wallSeconds: number;
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
  network: GatysNetwork,
  pair: QualityPair,
  settings: QualitySettings,
): Promise<QualityResult> {
  const { size, log } = settings;
  const content = await loadImage(pair.content, size);
  const style = await loadImage(pair.style, size);
  const transfer = new StyleTransfer(network);
  const judge = await distanceJudge(network, content, style);
  const name = `${basename(pair.content)} × ${basename(pair.style)}`;
  const schedule = scaleSchedule(content, settings.multiScaleIterations, 'on')
    .map((scale) => `${Math.max(scale.width, scale.height)} px × ${scale.iterations}`)
    .join(' → ');

  try {
    log(
      `${name}: single-scale (${settings.referenceIterations} iterations at ${size} px) and multi-scale ` +
        `(${schedule}), taking turns`,
    );
    const turns = new TurnTaking();
    const wallStart = performance.now();
    const [single, multi] = await Promise.all([
      runInTurns(turns, transfer, content, style, {
        label: 'single',
        iterations: settings.referenceIterations,
        multiScale: 'off',
        log,
      }),
      runInTurns(turns, transfer, content, style, {
        label: 'multi ',
        iterations: settings.multiScaleIterations,
        multiScale: 'on',
        log,
      }),
    ]);
    const wallSeconds = (performance.now() - wallStart) / 1000;
    log(`${name}: judging the rendered image of every iteration at ${size} px`);
    const judgeRun = async (run: RunOutcome): Promise<TrajectoryPoint[]> => {
      const points: TrajectoryPoint[] = [];
      for (const { iteration, seconds, losses, image } of run.trajectory) {
        points.push({ iteration, seconds, rendered: await judge(image), losses });
      }
      return points;
    };
    const singleTrajectory = await judgeRun(single);
    const multiTrajectory = await judgeRun(multi);
    const reference = singleTrajectory[singleTrajectory.length - 1]!;
    const gramTarget = settings.gramTarget ?? reference.rendered.gram;
    const reachedReference = ({ rendered }: TrajectoryPoint): boolean =>
      rendered.gram <= QUALITY_TOLERANCE * reference.rendered.gram &&
      rendered.content <= QUALITY_TOLERANCE * reference.rendered.content;
    const summary = (
      trajectory: TrajectoryPoint[],
      reached: TrajectoryPoint | undefined,
      totalSeconds: number,
    ): RunToTarget => {
      const judged = reached ?? trajectory[trajectory.length - 1]!;
      return {
        secondsToGramTarget: trajectory.find((point) => point.rendered.gram <= gramTarget)?.seconds ?? null,
        secondsToReferenceQuality: reached?.seconds ?? null,
        iterations: judged.iteration,
        distances: judged.rendered,
        totalSeconds,
        trajectory,
      };
    };
    return {
      pair: name,
      size,
      gramTarget,
      schedule,
      wallSeconds,
      singleScale: summary(singleTrajectory, reference, single.totalSeconds),
      multiScale: summary(multiTrajectory, multiTrajectory.find(reachedReference), multi.totalSeconds),
    };
  } finally {
    judge.dispose();
  }
}

/**
 * Lets jobs on one event loop take turns on the machine: one holds it at a time, the others wait in line. A job
 * that ends its turn at each iteration's end thus alternates with the others, iteration by iteration.
 */
class TurnTaking {
  private held = false;
  private readonly waiting: (() => void)[] = [];

  async begin(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  end(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held = false;
  }
}

/** An iteration at the output size as a job records it; its image is judged once the jobs are done. */
interface RecordedIteration {
  readonly iteration: number;
  readonly seconds: number;
  readonly losses: Distances;
  readonly image: RgbImage;
}

interface RunOutcome {
  readonly trajectory: readonly RecordedIteration[];
  readonly totalSeconds: number;
}

/**
 * Runs a job to its end in turns, one iteration per turn, recording its losses and image at the output size.
 * Only the turns count towards its seconds; the bookkeeping between them (rendering, logging) does not.
 */
async function runInTurns(
  turns: TurnTaking,
  transfer: StyleTransfer,
  content: RgbImage,
  style: RgbImage,
  job: { label: string; iterations: number; multiScale: 'on' | 'off'; log: (line: string) => void },
): Promise<RunOutcome> {
  const trajectory: RecordedIteration[] = [];
  const options = stylizeOptionsSchema.parse({
    size: Math.max(content.width, content.height),
    iterations: job.iterations,
    multiScale: job.multiScale,
  });
  let ownMs = 0;
  let turnStartedAt = 0;
  const beginTurn = async (): Promise<void> => {
    await turns.begin();
    turnStartedAt = performance.now();
  };
  const endTurn = (): void => {
    ownMs += performance.now() - turnStartedAt;
  };

  await beginTurn();
  try {
    await transfer.run({
      content,
      styles: oneStyle(style),
      options,
      onProgress: async ({ progress: event, preview }) => {
        endTurn();
        const seconds = ownMs / 1000;
        const losses = {
          gram: gramDistanceOfLosses(event.styleLayerLosses ?? []),
          content: Math.sqrt(event.contentLoss ?? Number.NaN),
        };
        const scale = event.scale ? `${event.scale.width}×${event.scale.height}` : '';
        job.log(
          `  ${job.label} ${event.iteration}/${event.total} ${scale} gram ${losses.gram.toFixed(4)} ` +
            `content ${losses.content.toFixed(4)} ${seconds.toFixed(1)} s`,
        );
        if (!event.scale || event.scale.index === event.scale.count - 1) {
          trajectory.push({ iteration: event.iteration, seconds, losses, image: preview() });
        }
        turns.end();
        await beginTurn();
      },
    });
    endTurn();
  } finally {
    turns.end();
  }
  return { trajectory, totalSeconds: ownMs / 1000 };
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
