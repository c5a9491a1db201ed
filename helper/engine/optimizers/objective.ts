import type * as tf from '@tensorflow/tfjs-core';

/**
 * The value and gradient of a function at a point, with whatever else the function reports there (`details`: the
 * engine's loss terms). The gradient tensor belongs to whoever receives it.
 */
export interface Evaluation<Details = undefined> {
  readonly loss: number;
  readonly gradient: tf.Tensor;
  readonly details: Details;
}

export type Objective<Details = undefined> = (x: tf.Tensor) => Promise<Evaluation<Details>>;

/** The point an iteration settled on, as its evaluation reported it (never a rejected trial point's). */
export interface AcceptedPoint<Details = undefined> {
  readonly loss: number;
  readonly details: Details;
}

/** An iterative minimizer that owns its current point. */
export interface Optimizer<Details = undefined> {
  /** The current point (owned by the optimizer: clone it to keep it past the next step or dispose). */
  readonly x: tf.Tensor;
  /**
   * One iteration. Resolves to the evaluation of the point it accepted: L-BFGS's new point (or the old one when no
   * trial point decreased the loss); Adam's point before its step, the only one it evaluates.
   */
  step(): Promise<AcceptedPoint<Details>>;
  dispose(): void;
}
