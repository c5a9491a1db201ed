import * as tf from '@tensorflow/tfjs-core';
import { CONTENT_LAYER, STYLE_LAYERS } from '../../../shared/stylizeOptions.js';
import { gramBackward, gramMatrix } from './fastGradients.js';
import { styleCoefficients, styleLossFromLayers, type ObjectiveEvaluation, type ObjectiveWeights, type Pooling } from '../gatysNetwork.js';
import { relativeSquaredErrorOfResidual, totalVariationLoss, type LossTarget } from './losses.js';
import type { Vgg19Features } from './vgg19.js';

/** One scale's targets with their energies ‖t‖², as this backend's objective uses them. */
export interface BoundTargets {
  /** The content image's conv4_2 features. */
  readonly content: LossTarget<tf.Tensor4D>;
  /** The style image's Gram matrix on each style layer, in STYLE_LAYERS order. */
  readonly styleGrams: readonly LossTarget<tf.Tensor2D>[];
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
  targets: BoundTargets,
  weights: ObjectiveWeights,
  pooling: Pooling,
): Promise<ObjectiveEvaluation> {
  const pass = network.forward(image, [...STYLE_LAYERS, CONTENT_LAYER], pooling, true);
  const coefficients = styleCoefficients(weights);
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
        const target = targets.styleGrams[i]!;
        const gram = gramMatrix(pass.features.get(layer)!, network.gradients.gram);
        const residual = tf.keep(tf.sub(gram, target.value));
        residuals.set(layer, { residual, energy: target.energy, weight: coefficients[i]! });
        return relativeSquaredErrorOfResidual(residual, target);
      });
      const styleTerm = tf.addN(layerLosses.map((loss, i) => tf.mul(loss, coefficients[i]!))) as tf.Scalar;
      return { contentLoss, styleTerm, layerLosses };
    });
    scalars.push(terms.contentLoss, terms.styleTerm, ...terms.layerLosses);

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
      const weighted = tf.add(terms.contentLoss, terms.styleTerm);
      return tvLoss ? tf.add(weighted, tvLoss) : weighted;
    });
    scalars.push(total);
    // One read for all the numbers: every read waits for (and on some backends copies) the results.
    const packed = tf.stack([total, terms.contentLoss, ...terms.layerLosses]);
    const [loss, contentLoss, ...styleLayerLosses] = await packed.data();
    packed.dispose();
    const result: ObjectiveEvaluation = {
      loss: loss!,
      contentLoss: contentLoss!,
      styleLoss: styleLossFromLayers(styleLayerLosses, weights.styleLayerWeights),
      styleLayerLosses,
      gradient,
    };
    gradient = undefined;
    return result;
  } finally {
    gradient?.dispose();
    pass.dispose();
    tf.dispose([...scalars, ...[...residuals.values()].map(({ residual }) => residual)]);
  }
}
