import * as tf from '@tensorflow/tfjs-core';
import { CONTENT_LAYER, STYLE_LAYERS } from '../../shared/stylizeOptions.js';
import { gramMatrix } from './fastGradients.js';
import { imageToTensor, type RgbImage } from './rgbImage.js';
import { toNetworkInput, type Vgg19Features } from './vgg19.js';

/** How far an image is from the style and from the content, by the network's own representations. */
export interface Distances {
  /** Mean over conv1_1 … conv5_1 of ‖G(image) − G(style)‖ / ‖G(style)‖. */
  readonly gram: number;
  /** ‖F(image) − F(content)‖ / ‖F(content)‖ on conv4_2. */
  readonly content: number;
}

export type DistanceJudge = ((image: RgbImage) => Distances) & { dispose(): void };

/**
 * The yardstick of results (tests and benchmarks): judges images against one content and one style image, whose
 * representations it computes once. Dispose it when done.
 */
export function distanceJudge(network: Vgg19Features, content: RgbImage, style: RgbImage): DistanceJudge {
  const gramPath = network.gradients.gram;
  const [styleGrams, contentFeatures] = tf.tidy(() => {
    const styleFeatures = network.extract(toNetworkInput(imageToTensor(style)), STYLE_LAYERS);
    const grams = STYLE_LAYERS.map((layer) => gramMatrix(styleFeatures.get(layer)!, gramPath));
    const contentLayer = network.extract(toNetworkInput(imageToTensor(content)), [CONTENT_LAYER]).get(CONTENT_LAYER)!;
    return [grams, contentLayer] as const;
  });
  const judge = (image: RgbImage): Distances =>
    tf.tidy(() => {
      const features = network.extract(toNetworkInput(imageToTensor(image)), [...STYLE_LAYERS, CONTENT_LAYER]);
      const relative = (a: tf.Tensor, b: tf.Tensor): number =>
        Math.sqrt(tf.sum(tf.squaredDifference(a, b)).dataSync()[0]! / tf.sum(tf.square(b)).dataSync()[0]!);
      const gram =
        STYLE_LAYERS.reduce(
          (sum, layer, i) => sum + relative(gramMatrix(features.get(layer)!, gramPath), styleGrams[i]!),
          0,
        ) / STYLE_LAYERS.length;
      return { gram, content: relative(features.get(CONTENT_LAYER)!, contentFeatures) };
    });
  return Object.assign(judge, { dispose: () => tf.dispose([...styleGrams, contentFeatures]) });
}
