import * as tf from '@tensorflow/tfjs-core';
import type { GatysNetwork } from './gatysNetwork.js';
import { toNetworkInput } from './networkInput.js';
import { imageToTensor, type RgbImage } from './rgbImage.js';

/** How far an image is from the style and from the content, by the network's own representations. */
export interface Distances {
  /** Mean over conv1_1 … conv5_1 of ‖G(image) − G(style)‖ / ‖G(style)‖. */
  readonly gram: number;
  /** ‖F(image) − F(content)‖ / ‖F(content)‖ on conv4_2. */
  readonly content: number;
}

export type DistanceJudge = ((image: RgbImage) => Promise<Distances>) & { dispose(): void };

/**
 * The yardstick of results (tests and benchmarks): judges images against one content and one style image, whose
 * representations it computes once, with average pooling. Judge results of different backends with the same judge.
 * Dispose it when done.
 */
export async function distanceJudge(network: GatysNetwork, content: RgbImage, style: RgbImage): Promise<DistanceJudge> {
  const representations = async (image: RgbImage) => {
    const input = tf.tidy(() => toNetworkInput(imageToTensor(image)));
    try {
      return { grams: await network.styleGrams(input, 'avg'), content: await network.contentFeatures(input, 'avg') };
    } finally {
      input.dispose();
    }
  };
  const styleGrams = (await representations(style)).grams;
  const contentOnly = await representations(content);
  tf.dispose(contentOnly.grams);
  const contentFeatures = contentOnly.content;
  const relative = (a: tf.Tensor, b: tf.Tensor): number =>
    tf.tidy(() => Math.sqrt(tf.sum(tf.squaredDifference(a, b)).dataSync()[0]! / tf.sum(tf.square(b)).dataSync()[0]!));
  const judge = async (image: RgbImage): Promise<Distances> => {
    const features = await representations(image);
    try {
      const gram = features.grams.reduce((sum, g, i) => sum + relative(g, styleGrams[i]!), 0) / features.grams.length;
      return { gram, content: relative(features.content, contentFeatures) };
    } finally {
      tf.dispose([...features.grams, features.content]);
    }
  };
  return Object.assign(judge, { dispose: () => tf.dispose([...styleGrams, contentFeatures]) });
}
