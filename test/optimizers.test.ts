import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam } from '../helper/engine/optimizers/adam.js';
import { disposeCurvatureSteps, Lbfgs, type CurvatureStep } from '../helper/engine/optimizers/lbfgs.js';
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
    return { loss: loss!, gradient: grad, details: undefined };
  };
  objective.evaluations = 0;
  return objective;
}

async function minimize(optimizer: Optimizer, iterations: number): Promise<{ x: number[]; loss: number }> {
  let loss = Number.NaN;
  for (let i = 0; i < iterations; i++) loss = (await optimizer.step()).loss;
  const x = Array.from(optimizer.x.dataSync());
  optimizer.dispose();
  return { x, loss };
}

// An ill-conditioned quadratic ½·Σ aᵢ(xᵢ − cᵢ)², minimum at c, condition number 100.
const N = 16;
const curvatures = Array.from({ length: N }, (_, i) => 1 + (99 * i) / (N - 1));
const centre = Array.from({ length: N }, (_, i) => Math.sin(i) * 3);
// A box that cuts off part of the centre; the quadratic is separable, so its minimum over the box is the centre
// clamped into the box.
const [LOWER, UPPER] = [-1, 2];
const boxedCentre = centre.map((value) => Math.min(UPPER, Math.max(LOWER, value)));
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

  it('takes carried curvature pairs as its inverse-Hessian model: pairs spanning the space make a Newton step', async () => {
    const before = tf.memory().numTensors;
    const firstStepLoss = async (carried: CurvatureStep[]): Promise<{ loss: number; evaluations: number }> => {
      const objective = objectiveOf(quadratic);
      const x0 = tf.zeros([N]);
      const optimizer = new Lbfgs(x0, objective, { historySize: N }, carried);
      x0.dispose();
      const { loss } = await optimizer.step();
      optimizer.dispose();
      return { loss, evaluations: objective.evaluations };
    };
    // Exact curvature along every axis: s = eᵢ, y = A·eᵢ.
    const axisPairs = (): CurvatureStep[] =>
      curvatures.map((a, i) =>
        tf.tidy(() => {
          const axis = tf.oneHot(i, N).toFloat();
          return { s: axis, y: tf.mul(axis, a) };
        }),
      );
    const initialLoss = tf.tidy(() => quadratic(tf.zeros([N])).dataSync()[0]!);

    const seeded = await firstStepLoss(axisPairs());
    expect(seeded.loss).toBeLessThan(1e-6 * initialLoss);
    expect(seeded.evaluations).toBe(2);
    // Without them, the first step is a short steepest-descent probe.
    const fresh = await firstStepLoss([]);
    expect(fresh.loss).toBeGreaterThan(0.5 * initialLoss);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('hands its curvature pairs over, oldest first, and forgets them', async () => {
    const before = tf.memory().numTensors;
    const x0 = tf.zeros([N]);
    const optimizer = new Lbfgs(x0, objectiveOf(quadratic), { historySize: 4 });
    x0.dispose();
    const points: number[][] = [];
    for (let i = 0; i < 6; i++) {
      await optimizer.step();
      points.push(Array.from(optimizer.x.dataSync()));
    }
    const steps = optimizer.releaseHistory();
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before + 2 * 4);
    // The newest pair is the last step taken: s = x₆ − x₅.
    const lastStep = points[5]!.map((value, i) => value - points[4]![i]!);
    Array.from(steps[3]!.s.dataSync()).forEach((value, i) => expect(value).toBeCloseTo(lastStep[i]!, 4));
    for (const { s, y } of steps) expect(tf.tidy(() => tf.sum(tf.mul(s, y)).dataSync()[0]!)).toBeGreaterThan(0);
    disposeCurvatureSteps(steps);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('with bounds, keeps every iterate in the box and finds the minimum on its faces', async () => {
    const before = tf.memory().numTensors;
    const bounds = { lower: tf.scalar(LOWER), upper: tf.scalar(UPPER) };
    expect(boxedCentre.filter((value, i) => value !== centre[i]).length).toBeGreaterThan(4);
    const x0 = tf.fill([N], 5);
    const optimizer = new Lbfgs(x0, objectiveOf(quadratic), { historySize: 8, bounds });
    x0.dispose();
    const outside: number[] = [];
    for (let i = 0; i < 60; i++) {
      await optimizer.step();
      outside.push(...Array.from(optimizer.x.dataSync()).filter((value) => value < LOWER || value > UPPER));
    }
    const x = Array.from(optimizer.x.dataSync());
    optimizer.dispose();
    expect(outside).toEqual([]);
    x.forEach((value, i) => expect(value).toBeCloseTo(boxedCentre[i]!, 3));
    tf.dispose([bounds.lower, bounds.upper]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports the point it accepted, never a rejected trial point of its line search', async () => {
    const before = tf.memory().numTensors;
    // The details of an evaluation name the point it was made at.
    const evaluate = tf.valueAndGrad(rosenbrock);
    let evaluations = 0;
    const objective = async (x: tf.Tensor): Promise<Evaluation<number[]>> => {
      evaluations += 1;
      const { value, grad } = evaluate(x);
      const [loss] = await value.data();
      value.dispose();
      return { loss: loss!, gradient: grad, details: Array.from(x.dataSync()) };
    };
    const x0 = tf.tensor1d([-1.2, 1]);
    const optimizer = new Lbfgs(x0, objective, { historySize: 5 });
    x0.dispose();
    let backtracked = 0;
    for (let i = 0; i < 40; i++) {
      const evaluationsBefore = evaluations;
      const accepted = await optimizer.step();
      if (evaluations - evaluationsBefore > 1 + (i === 0 ? 1 : 0)) backtracked += 1;
      expect(accepted.details).toEqual(Array.from(optimizer.x.dataSync()));
      expect(accepted.loss).toBeCloseTo(tf.tidy(() => rosenbrock(optimizer.x).dataSync()[0]!), 4);
    }
    expect(backtracked).toBeGreaterThan(0);
    optimizer.dispose();
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

  it('with bounds, projects every step into the box', async () => {
    const before = tf.memory().numTensors;
    const bounds = { lower: tf.scalar(LOWER), upper: tf.scalar(UPPER) };
    const x0 = tf.zeros([N]);
    const { x } = await minimize(new Adam(x0, objectiveOf(quadratic), { learningRate: 0.1, bounds }), 800);
    x0.dispose();
    x.forEach((value, i) => expect(value).toBeCloseTo(boxedCentre[i]!, 1));
    tf.dispose([bounds.lower, bounds.upper]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
