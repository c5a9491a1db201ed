import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { stylizeOptionsSchema } from '../shared/stylizeOptions.js';
import { StyleTransfer, type RgbImage } from '../helper/engine/index.js';
import { luminance } from '../helper/engine/color.js';
import { imageToTensor } from '../helper/engine/rgbImage.js';
import { prepareStylizeImages } from '../helper/imageio/index.js';
import { describeOnEachNetwork } from './support/networks.js';
import { sharedImagePath } from './support/sharedAssets.js';

const SIZE = 64;

let photo: Buffer;
let painting: Buffer;

beforeAll(async () => {
  photo = await readFile(sharedImagePath('golden_gate.jpg'));
  painting = await readFile(sharedImagePath('starry_night.jpg'));
});

/** Mean absolute luminance step between neighbouring pixels: small strokes make many steps, large ones few. */
function fineDetail(image: RgbImage): number {
  return tf.tidy(() => {
    const y = luminance(imageToTensor(image));
    const { width, height } = image;
    const across = tf.abs(tf.sub(tf.slice(y, [0, 0, 1, 0], [-1, -1, -1, -1]), tf.slice(y, 0, [-1, -1, width - 1, -1])));
    const down = tf.abs(tf.sub(tf.slice(y, [0, 1, 0, 0], [-1, -1, -1, -1]), tf.slice(y, 0, [-1, height - 1, -1, -1])));
    return (tf.mean(across).dataSync()[0]! + tf.mean(down).dataSync()[0]!) / 2;
  });
}

describe('the brush size when preparing the images', () => {
  it("scales each style image to styleScale × the output's long side", async () => {
    const small = await prepareStylizeImages(photo, [painting, photo], { size: 96, styleScale: 0.5 });
    expect([small.content.width, small.content.height]).toEqual([96, 72]);
    expect(small.styles.map((image) => Math.max(image.width, image.height))).toEqual([48, 48]);
    const large = await prepareStylizeImages(photo, [painting], { size: 96, styleScale: 2 });
    expect(large.styles.map((image) => [image.width, image.height])).toEqual([[192, 120]]);
  });

  it('keeps a tiny brush on a tiny output large enough for the network, up to the output size', async () => {
    // 0.25 × 64 = 16 px long: 16×10 would be too small for VGG-19's poolings, so it is scaled up to 16 px short.
    const images = await prepareStylizeImages(photo, [painting], { size: 64, styleScale: 0.25 });
    expect(images.styles.map((image) => [image.width, image.height])).toEqual([[26, 16]]);
    // Never beyond the output's long side: a banner stays too thin, and the engine says so.
    const thin = await sharp({ create: { width: 400, height: 20, channels: 3, background: '#345678' } }).png().toBuffer();
    const banner = await prepareStylizeImages(photo, [thin], { size: 64, styleScale: 0.5 });
    expect(banner.styles.map((image) => [image.width, image.height])).toEqual([[64, 3]]);
  });
});

describeOnEachNetwork('the brush size on %s (real VGG-19, golden_gate × starry_night, 64 px)', (network) => {
  it('paints with larger strokes at a larger styleScale', async () => {
    const stylize = async (styleScale: number): Promise<RgbImage> => {
      const options = stylizeOptionsSchema.parse({ size: SIZE, iterations: 20, styleScale });
      const images = await prepareStylizeImages(photo, [painting], options);
      const styles = images.styles.map((image) => ({ image, weight: 1 }));
      return (await new StyleTransfer(network()).run({ content: images.content, styles, options })).image;
    };
    const [small, large] = [await stylize(0.5), await stylize(2)];
    // Measured on both backends: 22.5–22.7 grey levels between neighbours at 0.5, 15.7 at 2.
    expect(fineDetail(small)).toBeGreaterThan(1.3 * fineDetail(large));
  });
});
