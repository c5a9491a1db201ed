import * as tf from '@tensorflow/tfjs-core';
import { freeCoordinates, projectOntoBounds, type Bounds } from './bounds.js';
import type { AcceptedPoint, Evaluation, Objective, Optimizer } from './objective.js';

export interface LbfgsOptions {
  /** How many (s, y) pairs approximate the inverse Hessian. */
  historySize: number;
  /**
   * Length of the very first step, as the largest change of any coordinate. Without curvature information the
   * gradient's scale says nothing about a sensible step; in pixel space a few units is safe.
   */
  firstStepMaxChange: number;
  /** Armijo sufficient-decrease constant. */
  armijo: number;
  /** Halvings of the step before giving up on a direction. */
  maxBacktracks: number;
  /** The point counts as a minimum once no gradient component is larger than this. */
  gradientTolerance: number;
  /** A box every iterate stays in (projected L-BFGS), or none. */
  bounds: Bounds | undefined;
}

const DEFAULTS: LbfgsOptions = {
  historySize: 10,
  firstStepMaxChange: 1,
  armijo: 1e-4,
  maxBacktracks: 12,
  gradientTolerance: 0,
  bounds: undefined,
};

/** One step of a run: s = x₊ − x and y = ∇f(x₊) − ∇f(x). */
export interface CurvatureStep {
  readonly s: tf.Tensor;
  readonly y: tf.Tensor;
}

interface CurvaturePair extends CurvatureStep {
  /** 1 / (sᵀy) */
  readonly rho: tf.Scalar;
}

/**
 * Limited-memory BFGS (Nocedal & Wright, algorithm 7.4) with a backtracking Armijo line search, on tensors. The step
 * length 1 is accepted almost always once curvature pairs exist, so an iteration costs one evaluation.
 * With bounds it is projected L-BFGS (as in Kim, Sra & Dhillon 2010): coordinates pinned on a bound by the gradient
 * are held still, the direction comes from the rest, and each trial point is projected back into the box.
 * Every tensor it makes is either kept in its state or disposed before step() returns.
 */
export class Lbfgs<Details = undefined> implements Optimizer<Details> {
  private readonly options: LbfgsOptions;
  private current: { x: tf.Tensor; evaluation: Evaluation<Details> } | undefined;
  private pending: tf.Tensor | undefined;
  private readonly history: CurvaturePair[] = [];
  /** Set when no step along steepest descent decreases the loss: further steps would only burn evaluations. */
  private converged = false;

  /**
   * `carriedHistory` (oldest first, taken over) seeds the inverse-Hessian model with steps of a related problem,
   * e.g. a coarser scale's steps mapped to this one: the first step then follows that curvature instead of a short
   * steepest-descent probe. Pairs without positive curvature are dropped, as in remember().
   */
  constructor(
    x0: tf.Tensor,
    private readonly objective: Objective<Details>,
    options: Partial<LbfgsOptions> = {},
    carriedHistory: readonly CurvatureStep[] = [],
  ) {
    this.options = { ...DEFAULTS, ...options };
    const { bounds } = this.options;
    this.pending = bounds ? projectOntoBounds(x0, bounds) : tf.clone(x0);
    for (const { s, y } of carriedHistory) this.rememberPair(s, y);
  }

  /** Hands the curvature pairs (oldest first) to the caller, who then owns them; the optimizer forgets them. */
  releaseHistory(): CurvatureStep[] {
    return this.history.splice(0).map(({ s, y, rho }) => {
      rho.dispose();
      return { s, y };
    });
  }

  get x(): tf.Tensor {
    return this.current?.x ?? this.pending!;
  }

  async step(): Promise<AcceptedPoint<Details>> {
    if (!this.current) {
      const x = this.pending!;
      this.pending = undefined;
      this.current = { x, evaluation: await this.objective(x) };
    }
    const { x, evaluation } = this.current;
    if (this.converged) return accepted(evaluation);
    const { bounds } = this.options;
    // Without bounds every coordinate is free and the projected gradient is the gradient.
    const free = bounds ? freeCoordinates(x, evaluation.gradient, bounds) : undefined;
    const projectedGradient = free ? tf.mul(evaluation.gradient, free) : evaluation.gradient;
    let direction: tf.Tensor;
    try {
      if ((await scalarValue(tf.tidy(() => tf.max(tf.abs(projectedGradient))))) <= this.options.gradientTolerance) {
        this.converged = true;
        return accepted(evaluation);
      }
      direction = this.searchDirection(projectedGradient, free);
      const slope = await scalarValue(tf.tidy(() => tf.sum(tf.mul(evaluation.gradient, direction))));
      if (!(slope < 0)) {
        // The curvature pairs no longer describe the function: start afresh from steepest descent.
        this.clearHistory();
        direction.dispose();
        direction = this.searchDirection(projectedGradient, free);
      }
    } finally {
      free?.dispose();
      if (projectedGradient !== evaluation.gradient) projectedGradient.dispose();
    }

    let stepLength = 1;
    for (let backtrack = 0; backtrack <= this.options.maxBacktracks; backtrack++, stepLength /= 2) {
      const candidate = tf.tidy(() => {
        const moved = tf.add(x, tf.mul(direction, stepLength));
        return bounds ? projectOntoBounds(moved, bounds) : moved;
      });
      // The step actually taken: along a projected path it is shorter than stepLength·direction where a bound cut it.
      const s = tf.tidy(() => (bounds ? tf.sub(candidate, x) : tf.mul(direction, stepLength)));
      const predictedChange = await scalarValue(tf.tidy(() => tf.sum(tf.mul(evaluation.gradient, s))));
      if (!(predictedChange < 0)) {
        // Every free coordinate was cut off by a bound: nothing to evaluate at this length.
        candidate.dispose();
        s.dispose();
        continue;
      }
      const candidateEvaluation = await this.objective(candidate);
      if (candidateEvaluation.loss <= evaluation.loss + this.options.armijo * predictedChange) {
        this.remember(s, candidateEvaluation.gradient, evaluation.gradient);
        direction.dispose();
        x.dispose();
        evaluation.gradient.dispose();
        this.current = { x: candidate, evaluation: candidateEvaluation };
        return accepted(candidateEvaluation);
      }
      candidate.dispose();
      s.dispose();
      candidateEvaluation.gradient.dispose();
    }
    direction.dispose();
    // No decrease even for tiny steps. Along steepest descent that means a (numerical) minimum: stay put for good.
    // Along a quasi-Newton direction the curvature pairs may be stale: drop them and try steepest descent next time.
    if (this.history.length === 0) this.converged = true;
    this.clearHistory();
    return accepted(evaluation);
  }

  /**
   * −H·g by the two-loop recursion; without history, steepest descent scaled to firstStepMaxChange. With a mask of
   * free coordinates (g is then the projected gradient), the pinned ones are held still and the slope −gᵀHg stays
   * negative.
   */
  private searchDirection(gradient: tf.Tensor, free: tf.Tensor | undefined): tf.Tensor {
    return tf.tidy(() => {
      const direction = this.unmaskedSearchDirection(gradient);
      return free ? tf.mul(direction, free) : direction;
    });
  }

  private unmaskedSearchDirection(gradient: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      if (this.history.length === 0) {
        const largest = tf.maximum(tf.max(tf.abs(gradient)), 1e-30);
        return tf.mul(gradient, tf.div(-this.options.firstStepMaxChange, largest));
      }
      let q: tf.Tensor = gradient;
      const alphas: tf.Scalar[] = [];
      for (let i = this.history.length - 1; i >= 0; i--) {
        const { s, y, rho } = this.history[i]!;
        const alpha = tf.mul(rho, tf.sum(tf.mul(s, q))) as tf.Scalar;
        alphas[i] = alpha;
        q = tf.sub(q, tf.mul(alpha, y));
      }
      const newest = this.history[this.history.length - 1]!;
      // H₀ = γI with γ = sᵀy / yᵀy, the usual scaling that makes step length 1 natural.
      const gamma = tf.div(tf.div(1, newest.rho), tf.sum(tf.square(newest.y)));
      let r: tf.Tensor = tf.mul(q, gamma);
      for (let i = 0; i < this.history.length; i++) {
        const { s, y, rho } = this.history[i]!;
        const beta = tf.mul(rho, tf.sum(tf.mul(y, r)));
        r = tf.add(r, tf.mul(s, tf.sub(alphas[i]!, beta)));
      }
      return tf.neg(r);
    });
  }

  /** Takes ownership of s; y is computed from the two gradients, which stay with the caller. */
  private remember(s: tf.Tensor, newGradient: tf.Tensor, oldGradient: tf.Tensor): void {
    this.rememberPair(s, tf.sub(newGradient, oldGradient));
  }

  /** Takes ownership of s and y. */
  private rememberPair(s: tf.Tensor, y: tf.Tensor): void {
    const curvature = tf.tidy(() => tf.sum(tf.mul(s, y)));
    const yNorm = tf.tidy(() => tf.sum(tf.square(y)));
    const [sy, yy] = [curvature.dataSync()[0]!, yNorm.dataSync()[0]!];
    yNorm.dispose();
    if (!(sy > 1e-10 * yy) || !Number.isFinite(sy)) {
      // Not positive curvature (possible with an inexact line search): skip the pair to keep H positive definite.
      s.dispose();
      y.dispose();
      curvature.dispose();
      return;
    }
    const rho = tf.tidy(() => tf.div(1, curvature) as tf.Scalar);
    curvature.dispose();
    this.history.push({ s, y, rho });
    if (this.history.length > this.options.historySize) disposePair(this.history.shift()!);
  }

  private clearHistory(): void {
    for (const pair of this.history.splice(0)) disposePair(pair);
  }

  dispose(): void {
    this.clearHistory();
    this.pending?.dispose();
    if (this.current) {
      this.current.x.dispose();
      this.current.evaluation.gradient.dispose();
      this.current = undefined;
    }
  }
}

export function disposeCurvatureSteps(steps: readonly CurvatureStep[]): void {
  for (const { s, y } of steps) {
    s.dispose();
    y.dispose();
  }
}

function disposePair(pair: CurvaturePair): void {
  pair.s.dispose();
  pair.y.dispose();
  pair.rho.dispose();
}

function accepted<Details>({ loss, details }: Evaluation<Details>): AcceptedPoint<Details> {
  return { loss, details };
}

async function scalarValue(scalar: tf.Tensor): Promise<number> {
  const [value] = await scalar.data();
  scalar.dispose();
  return value!;
}
