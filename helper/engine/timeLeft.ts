import type { Scale } from './multiScale.js';

/**
 * The time left of a coarse-to-fine job: each remaining iteration at the measured cost of an iteration at its scale.
 * Scales not reached yet are estimated from the current one's cost per pixel (a step's work grows with the pixels;
 * at small sizes fixed costs weigh more, so this errs on the high side for the finer scales, and is corrected as
 * soon as they run). Counting every iteration at the same cost instead makes the estimate after the 128 px pass of a
 * default 512 px job about 13× too low.
 */
export class TimeLeft {
  private readonly spentMs: number[];
  private readonly done: number[];

  constructor(private readonly schedule: readonly Scale[]) {
    this.spentMs = schedule.map(() => 0);
    this.done = schedule.map(() => 0);
  }

  /** One iteration at scale `index` took `ms`. */
  record(index: number, ms: number): void {
    this.spentMs[index]! += ms;
    this.done[index]! += 1;
  }

  /** Milliseconds left after what was recorded, the last record being at scale `index`. */
  estimateMs(index: number): number {
    const done = this.done[index]!;
    const perIteration = this.spentMs[index]! / done;
    const scale = this.schedule[index]!;
    const perPixel = perIteration / (scale.width * scale.height);
    let left = (scale.iterations - done) * perIteration;
    for (const later of this.schedule.slice(index + 1)) left += later.iterations * perPixel * later.width * later.height;
    return left;
  }
}
