import * as tf from '@tensorflow/tfjs-core';
import { projectOntoBounds, type Bounds } from './bounds.js';
import type { AcceptedPoint, Objective, Optimizer } from './objective.js';

export interface AdamOptions {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** A box every iterate stays in: each step is projected back into it (as crowsonkb/style-transfer-pytorch clamps). */
  bounds: Bounds | undefined;
}

const DEFAULTS: AdamOptions = { learningRate: 1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, bounds: undefined };

/** Adam (Kingma & Ba 2015) on a tensor; one evaluation per step. */
export class Adam<Details = undefined> implements Optimizer<Details> {
  private readonly options: AdamOptions;
  private point: tf.Tensor;
  private firstMoment: tf.Tensor;
  private secondMoment: tf.Tensor;
  private stepCount = 0;

  constructor(
    x0: tf.Tensor,
    private readonly objective: Objective<Details>,
    options: Partial<AdamOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    const { bounds } = this.options;
    this.point = bounds ? projectOntoBounds(x0, bounds) : tf.clone(x0);
    this.firstMoment = tf.zerosLike(x0);
    this.secondMoment = tf.zerosLike(x0);
  }

  get x(): tf.Tensor {
    return this.point;
  }

  async step(): Promise<AcceptedPoint<Details>> {
    const { loss, gradient, details } = await this.objective(this.point);
    this.stepCount += 1;
    const { learningRate, beta1, beta2, epsilon, bounds } = this.options;
    const [point, firstMoment, secondMoment] = tf.tidy(() => {
      const m = tf.add(tf.mul(this.firstMoment, beta1), tf.mul(gradient, 1 - beta1));
      const v = tf.add(tf.mul(this.secondMoment, beta2), tf.mul(tf.square(gradient), 1 - beta2));
      const mHat = tf.div(m, 1 - beta1 ** this.stepCount);
      const vHat = tf.div(v, 1 - beta2 ** this.stepCount);
      const update = tf.div(tf.mul(mHat, learningRate), tf.add(tf.sqrt(vHat), epsilon));
      const moved = tf.sub(this.point, update);
      return [bounds ? projectOntoBounds(moved, bounds) : moved, m, v];
    });
    gradient.dispose();
    this.point.dispose();
    this.firstMoment.dispose();
    this.secondMoment.dispose();
    this.point = point;
    this.firstMoment = firstMoment;
    this.secondMoment = secondMoment;
    return { loss, details };
  }

  dispose(): void {
    this.point.dispose();
    this.firstMoment.dispose();
    this.secondMoment.dispose();
  }
}
