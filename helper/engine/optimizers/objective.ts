import type * as tf from '@tensorflow/tfjs-core';

/** The value and gradient of a function at a point. The gradient tensor belongs to whoever receives it. */
export interface Evaluation {
  readonly loss: number;
  readonly gradient: tf.Tensor;
}

export type Objective = (x: tf.Tensor) => Promise<Evaluation>;

/** An iterative minimizer that owns its current point. */
export interface Optimizer {
  /** The current point (owned by the optimizer: clone it to keep it past the next step or dispose). */
  readonly x: tf.Tensor;
  /** One iteration; resolves to the loss of its last evaluation (L-BFGS: at the new point; Adam: before the step). */
  step(): Promise<number>;
  dispose(): void;
}
