/**
 * The convolution layers of VGG-19 (Simonyan & Zisserman 2014) in the Keras naming of the "notop" weights file,
 * with the paper's names (conv1_1 …) used everywhere else in Gramstyle.
 */
export interface VggConvLayerSpec {
  /** conv1_1 … conv5_4 */
  readonly name: string;
  /** block1_conv1 … block5_conv4: the group name in the Keras HDF5 file. */
  readonly kerasName: string;
  readonly inChannels: number;
  readonly outChannels: number;
  /** A 2×2 pooling layer precedes this convolution (the first of blocks 2–5). */
  readonly poolBefore: boolean;
}

const BLOCKS: ReadonlyArray<{ convs: number; channels: number }> = [
  { convs: 2, channels: 64 },
  { convs: 2, channels: 128 },
  { convs: 4, channels: 256 },
  { convs: 4, channels: 512 },
  { convs: 4, channels: 512 },
];

export const VGG19_CONV_LAYERS: readonly VggConvLayerSpec[] = BLOCKS.flatMap(({ convs, channels }, blockIndex) => {
  const block = blockIndex + 1;
  const previousChannels = blockIndex === 0 ? 3 : BLOCKS[blockIndex - 1]!.channels;
  return Array.from({ length: convs }, (_, convIndex) => ({
    name: `conv${block}_${convIndex + 1}`,
    kerasName: `block${block}_conv${convIndex + 1}`,
    inChannels: convIndex === 0 ? previousChannels : channels,
    outChannels: channels,
    poolBefore: convIndex === 0 && block > 1,
  }));
});

/** One convolution's parameters: kernel in HWIO layout [3, 3, in, out], bias [out]. */
export interface ConvWeights {
  readonly kernel: Float32Array;
  readonly bias: Float32Array;
}

/** The network's parameters, keyed by the paper's layer name (conv1_1 …). */
export type VggWeights = ReadonlyMap<string, ConvWeights>;

/** conv5_1 sits behind four 2×2 poolings: a side shorter than 16 pixels leaves it no position at all. */
export const MIN_IMAGE_SIDE = 16;

/** ImageNet mean of the Caffe-trained weights, in the network's BGR order. */
export const IMAGENET_MEAN_BGR = [103.939, 116.779, 123.68] as const;

/** Multiply-adds of the convolutions through conv5_1 per input pixel (each 3×3, 'same' padding). */
export function convMultiplyAddsPerPixel(lastLayer = 'conv5_1'): number {
  let total = 0;
  let pixelFraction = 1;
  for (const layer of VGG19_CONV_LAYERS) {
    if (layer.poolBefore) pixelFraction /= 4;
    total += pixelFraction * 9 * layer.inChannels * layer.outChannels;
    if (layer.name === lastLayer) break;
  }
  return total;
}
