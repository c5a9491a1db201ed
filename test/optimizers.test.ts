import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam } from '../helper/engine/optimizers/adam.js';
import { Lbfgs } from '../helper/engine/optimizers/lbfgs.js';
import type { Evaluation, Objective, Optimizer } from '../helper/engine/optimizers/objective.js';
import { useTestBackend } from './support/tfBackend.js';

/** Wraps a differentiable function of a tensor into an Objective, counting evaluations. */
function objectiveOf(f: (x: tf.Tensor) => tf.Scalar): Objective & { evaluations: number } {
  const valueAndGradient = tf.valueAndGrad(f);
  const objective = async (x: tf.Tensor): Promise<Evaluation> => {
    objective.evaluations += 1;
    const { value, grad } = valueAndGradient(x);
    const [loss] = await value.data();
    value.dispose();
    return { loss: loss!, gradient: grad };
  };
  objective.evaluations = 0;
  return objective;
}

async function minimize(optimizer: Optimizer, iterations: number): Promise<{ x: number[]; loss: number }> {
  let loss = Number.NaN;
  for (let i = 0; i < iterations; i++) loss = await optimizer.step();
  const x = Array.from(optimizer.x.dataSync());
  optimizer.dispose();
  return { x, loss };
}

// An ill-conditioned quadratic ½·Σ aᵢ(xᵢ − cᵢ)², minimum at c, condition number 100.
const N = 16;
const curvatures = Array.from({ length: N }, (_, i) => 1 + (99 * i) / (N - 1));
const centre = Array.from({ length: N }, (_, i) => Math.sin(i) * 3);
const quadratic = (x: tf.Tensor): tf.Scalar =>
  tf.mul(0.5, tf.sum(tf.mul(tf.tensor1d(curvatures), tf.square(tf.sub(x, tf.tensor1d(centre)))))) as tf.Scalar;

// Rosenbrock's banana valley, minimum at (1, 1).
const rosenbrock = (x: tf.Tensor): tf.Scalar => {
  const [a, b] = tf.unstack(x);
  return tf.add(tf.square(tf.sub(1, a!)), tf.mul(100, tf.square(tf.sub(b!, tf.square(a!))))) as tf.Scalar;
};

beforeAll(async () => {
  await useTestBackend();
});

describe('L-BFGS', () => {
  it('minimizes an ill-conditioned quadratic in few evaluations', async () => {
    const before = tf.memory().numTensors;
    const objective = objectiveOf(quadratic);
    const x0 = tf.zeros([N]);
    const { x, loss } = await minimize(new Lbfgs(x0, objective, { historySize: 8 }), 60);
    x0.dispose();
    x.forEach((value, i) => expect(value).toBeCloseTo(centre[i]!, 3));
    expect(loss).toBeLessThan(1e-6);
    // Line search backtracking is rare once curvature pairs exist.
    expect(objective.evaluations).toBeLessThan(90);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('minimizes the Rosenbrock function from (−1.2, 1)', async () => {
    const before = tf.memory().numTensors;
    const x0 = tf.tensor1d([-1.2, 1]);
    const { x, loss } = await minimize(new Lbfgs(x0, objectiveOf(rosenbrock), { historySize: 5 }), 150);
    x0.dispose();
    expect(x[0]).toBeCloseTo(1, 2);
    expect(x[1]).toBeCloseTo(1, 2);
    expect(loss).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stays put at a minimum instead of wandering off', async () => {
    const x0 = tf.tensor1d(centre);
    const { x, loss } = await minimize(new Lbfgs(x0, objectiveOf(quadratic)), 5);
    x0.dispose();
    expect(loss).toBe(0);
    x.forEach((value, i) => expect(value).toBeCloseTo(centre[i]!, 5));
  });
});

describe('Adam', () => {
  it('minimizes the quadratic', async () => {
    const before = tf.memory().numTensors;
    const x0 = tf.zeros([N]);
    const { x } = await minimize(new Adam(x0, objectiveOf(quadratic), { learningRate: 0.1 }), 800);
    x0.dispose();
    x.forEach((value, i) => expect(value).toBeCloseTo(centre[i]!, 1));
    expect(tf.memory().numTensors).toBe(before);
  });
});
