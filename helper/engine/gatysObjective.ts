import * as tf from '@tensorflow/tfjs-core';
import { CONTENT_LAYER, STYLE_LAYERS } from '../../shared/stylizeOptions.js';
import { gramBackward, gramMatrix } from './fastGradients.js';
import { relativeSquaredErrorOfResidual, totalVariationLoss, weightedStyleLoss, type LossTarget } from './losses.js';
import type { Pooling, Vgg19Features } from './vgg19.js';

/** What one scale of a job is measured against. */
export interface ObjectiveTargets {
  /** The content image's conv4_2 features. */
  readonly content: LossTarget<tf.Tensor4D>;
  /** The style image's Gram matrix on each style layer. */
  readonly styleGrams: ReadonlyMap<string, LossTarget<tf.Tensor2D>>;
}

export interface ObjectiveWeights {
  /** β/α, with α = 1. */
  readonly styleRatio: number;
  /** w_i of conv1_1 … conv5_1. */
  readonly styleLayerWeights: readonly number[];
  readonly tvWeight: number;
}

/**
 * Refuses weights with which the objective degenerates: style layer weights whose sum is not a finite positive number
 * (five times 1e308 overflows, and every coefficient wᵢ/Σw becomes 0), or a weight that is not finite once it is a
 * float32 (the tensors' type), twice over for the tv weight (the tv term is at most 2). The optimizer could not move
 * from its start, and the content would come back as the result. The options schema bounds every weight far below
 * this (shared/stylizeOptions.ts); this check is for the engine's other callers.
 */
export function assertObjectiveWeightsFinite(weights: ObjectiveWeights): void {
  const isFiniteFloat32 = (value: number): boolean => value >= 0 && Number.isFinite(Math.fround(value));
  const layerWeightSum = weights.styleLayerWeights.reduce((sum, w) => sum + w, 0);
  const problems = [
    isFiniteFloat32(weights.styleRatio) ? null : `β/α = ${weights.styleRatio}`,
    weights.styleLayerWeights.every((w) => w >= 0) && Number.isFinite(layerWeightSum) && layerWeightSum > 0
      ? null
      : `style layer weights ${weights.styleLayerWeights.join(', ')} (their sum must be finite and positive)`,
    isFiniteFloat32(2 * weights.tvWeight) ? null : `tv weight ${weights.tvWeight}`,
  ].filter((problem) => problem !== null);
  if (problems.length > 0) {
    throw new Error(`the objective would degenerate (a weight too large or not a number): ${problems.join('; ')}`);
  }
}

export interface ObjectiveEvaluation {
  /** L_content + β·L_style (+ tv·L_tv). */
  readonly loss: number;
  readonly contentLoss: number;
  /** Σ wᵢ·Eᵢ / Σ wᵢ. */
  readonly styleLoss: number;
  /** Eᵢ, the relative squared Gram error of each style layer. */
  readonly styleLayerLosses: readonly number[];
  /** With respect to the image; owned by the caller. */
  readonly gradient: tf.Tensor4D;
}

/**
 * Gatys' objective at an image (in the network's input space) and its gradient, with the backward pass written out:
 * each loss term is a relative squared error ‖a − t‖² / ‖t‖² (see losses.ts), whose gradient with respect to a is
 * 2(a − t) / ‖t‖²; a Gram term's gradient then goes through the Gram product to its layer's features, and the
 * network carries the features' gradients back to the image (Vgg19Features.forward). The total-variation term, a
 * function of the pixels alone, is differentiated by TensorFlow.js.
 */
export async function evaluateGatysObjective(
  network: Vgg19Features,
  image: tf.Tensor4D,
  targets: ObjectiveTargets,
  weights: ObjectiveWeights,
  pooling: Pooling,
): Promise<ObjectiveEvaluation> {
  const pass = network.forward(image, [...STYLE_LAYERS, CONTENT_LAYER], pooling, true);
  const weightSum = weights.styleLayerWeights.reduce((sum, w) => sum + w, 0);
  // Per loss term, for the backward pass: the residual a − t (small: Gram matrices and conv4_2), ‖t‖², and the term's
  // coefficient in the total (α = 1 for the content, β·wᵢ/Σw for a style layer).
  const residuals = new Map<string, { residual: tf.Tensor; energy: tf.Scalar; weight: number }>();
  const scalars: tf.Tensor[] = [];
  let gradient: tf.Tensor4D | undefined;
  try {
    const terms = tf.tidy(() => {
      const contentFeatures = pass.features.get(CONTENT_LAYER)!;
      const contentResidual = tf.keep(tf.sub(contentFeatures, targets.content.value));
      residuals.set(CONTENT_LAYER, { residual: contentResidual, energy: targets.content.energy, weight: 1 });
      const contentLoss = relativeSquaredErrorOfResidual(contentResidual, targets.content);
      const layerLosses = STYLE_LAYERS.map((layer, i) => {
        const target = targets.styleGrams.get(layer)!;
        const gram = gramMatrix(pass.features.get(layer)!, network.gradients.gram);
        const weight = (weights.styleRatio * weights.styleLayerWeights[i]!) / weightSum;
        const residual = tf.keep(tf.sub(gram, target.value));
        residuals.set(layer, { residual, energy: target.energy, weight });
        return relativeSquaredErrorOfResidual(residual, target);
      });
      const styleLoss = weightedStyleLoss(layerLosses, weights.styleLayerWeights);
      return { contentLoss, styleLoss, layerLosses };
    });
    scalars.push(terms.contentLoss, terms.styleLoss, ...terms.layerLosses);

    const networkGradient = pass.backward((layer, feature) => {
      const term = residuals.get(layer);
      if (!term) return null;
      return tf.tidy(() => {
        const outer = tf.div(tf.mul(term.residual, 2 * term.weight), term.energy);
        return layer === CONTENT_LAYER ? (outer as tf.Tensor4D) : gramBackward(feature, outer as tf.Tensor2D);
      });
    });

    gradient = networkGradient;
    let tvLoss: tf.Scalar | undefined;
    if (weights.tvWeight > 0) {
      const tv = tf.valueAndGrad((pixels: tf.Tensor) =>
        tf.mul(totalVariationLoss(pixels as tf.Tensor4D), weights.tvWeight),
      )(image);
      tvLoss = tv.value as tf.Scalar;
      scalars.push(tvLoss);
      gradient = tf.add(networkGradient, tv.grad) as tf.Tensor4D;
      tf.dispose([networkGradient, tv.grad]);
    }
    const total = tf.tidy(() => {
      const weighted = tf.add(terms.contentLoss, tf.mul(terms.styleLoss, weights.styleRatio));
      return tvLoss ? tf.add(weighted, tvLoss) : weighted;
    });
    scalars.push(total);
    // One read for all the numbers: every read waits for (and on some backends copies) the results.
    const packed = tf.stack([total, terms.contentLoss, terms.styleLoss, ...terms.layerLosses]);
    const [loss, contentLoss, styleLoss, ...styleLayerLosses] = await packed.data();
    packed.dispose();
    const result = { loss: loss!, contentLoss: contentLoss!, styleLoss: styleLoss!, styleLayerLosses, gradient };
    gradient = undefined;
    return result;
  } finally {
    gradient?.dispose();
    pass.dispose();
    tf.dispose([...scalars, ...[...residuals.values()].map(({ residual }) => residual)]);
  }
}
