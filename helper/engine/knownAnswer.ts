import * as tf from '@tensorflow/tfjs-core';
import type { GatysNetwork, ObjectiveWeights } from './gatysNetwork.js';
import { toNetworkInput } from './networkInput.js';

/**
 * A backend's answer to a small fixed problem: Gatys' objective and its gradient at a 32×32 image, against the
 * targets of two other fixed images, computed end to end by the backend (targets included). Two backends that agree
 * here run the same network with the same weights; a provider with a broken kernel, a driver bug or a wrong
 * precision does not.
 */
export interface KnownAnswer {
  readonly loss: number;
  readonly gradient: Float32Array;
}

/** Relative difference allowed: float32 on different hardware agrees to about 1e-6; a wrong kernel is far off. */
export const KNOWN_ANSWER_TOLERANCE = 1e-3;

const SIDE = 32;
const WEIGHTS: ObjectiveWeights = { styleRatio: 10, styleLayerWeights: [1, 1, 1, 1, 1], tvWeight: 0.1 };

/** A smooth, deterministic RGB pattern in 0–255, different for each `variant`. */
function pattern(variant: number): tf.Tensor4D {
  const data = new Float32Array(SIDE * SIDE * 3);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      for (let c = 0; c < 3; c++) {
        const wave = Math.sin((0.2 + 0.35 * variant) * x + 0.17 * y * (variant + 1) + c) * Math.cos(0.11 * x * y * variant + c);
        data[(y * SIDE + x) * 3 + c] = 127.5 + 120 * wave;
      }
    }
  }
  return tf.tidy(() => toNetworkInput(tf.tensor4d(data, [1, SIDE, SIDE, 3])));
}

export async function knownAnswer(network: GatysNetwork): Promise<KnownAnswer> {
  const [content, style, image] = [pattern(1), pattern(2), pattern(3)];
  const targets = { content: await network.contentFeatures(content, 'avg'), styleGrams: await network.styleGrams(style, 'avg') };
  const objective = network.objective(targets, WEIGHTS, 'avg');
  try {
    const evaluation = await objective.evaluate(image);
    const gradient = (await evaluation.gradient.data()) as Float32Array;
    evaluation.gradient.dispose();
    return { loss: evaluation.loss, gradient };
  } finally {
    objective.dispose();
    tf.dispose([content, style, image, targets.content, ...targets.styleGrams]);
  }
}

/** How `actual` differs from `expected`, when by more than KNOWN_ANSWER_TOLERANCE; else null. */
export function knownAnswerDisagreement(actual: KnownAnswer, expected: KnownAnswer): string | null {
  const lossError = Math.abs(actual.loss - expected.loss) / Math.abs(expected.loss);
  let difference = 0;
  let norm = 0;
  for (let i = 0; i < expected.gradient.length; i++) {
    difference += (actual.gradient[i]! - expected.gradient[i]!) ** 2;
    norm += expected.gradient[i]! ** 2;
  }
  const gradientError = Math.sqrt(difference / norm);
  if (!(lossError <= KNOWN_ANSWER_TOLERANCE)) return `loss off by ${lossError.toExponential(1)} relative`;
  if (!(gradientError <= KNOWN_ANSWER_TOLERANCE)) return `gradient off by ${gradientError.toExponential(1)} relative`;
  return null;
}
