import h5wasm from 'h5wasm/node';

import type { ConvWeights, VggConvLayerSpec } from '../../helper/engine/vggLayers.js';

export interface SyntheticWeightsOptions {
  /** Name weights "block1_conv1/kernel:0" in a nested group, as Keras 2+ writes them (default: flat "block1_conv1_W_1:0"). */
  readonly nested?: boolean;
  /** Leave out the root `layer_names` attribute. */
  readonly omitLayerNames?: boolean;
  /** Write this kernel shape for the layer with this Keras name instead of the spec's. */
  readonly kernelShapes?: Readonly<Record<string, number[]>>;
  /** Change values after generating them (e.g. put a NaN in). */
  readonly edit?: (kerasName: string, weights: ConvWeights) => void;
}

/**
 * Writes a small HDF5 file in the Keras "notop" layout for `layers` (input and pooling layers included, with empty
 * weight lists, as Keras writes them) holding deterministic values, and returns those values by paper layer name.
 */
export async function writeSyntheticWeights(
  path: string,
  layers: readonly VggConvLayerSpec[],
  options: SyntheticWeightsOptions = {},
): Promise<Map<string, ConvWeights>> {
  await h5wasm.ready;
  const written = new Map<string, ConvWeights>();
  const file = new h5wasm.File(path, 'w');
  try {
    const kerasNames = ['input_1', ...layers.map((layer) => layer.kerasName), 'block1_pool'];
    if (!options.omitLayerNames) file.create_attribute('layer_names', kerasNames);
    file.create_group('input_1');
    file.create_group('block1_pool');

    layers.forEach((layer, layerIndex) => {
      const kernelShape = options.kernelShapes?.[layer.kerasName] ?? [3, 3, layer.inChannels, layer.outChannels];
      const weights: ConvWeights = {
        kernel: deterministicValues(product(kernelShape), layerIndex),
        bias: deterministicValues(layer.outChannels, layerIndex + 100),
      };
      options.edit?.(layer.kerasName, weights);
      written.set(layer.name, weights);

      const group = file.create_group(layer.kerasName);
      let names: [string, string];
      let holder = group;
      if (options.nested) {
        names = [`${layer.kerasName}/kernel:0`, `${layer.kerasName}/bias:0`];
        holder = group.create_group(layer.kerasName);
      } else {
        names = [`${layer.kerasName}_W_1:0`, `${layer.kerasName}_b_1:0`];
      }
      group.create_attribute('weight_names', names);
      const leaf = (name: string): string => name.slice(name.lastIndexOf('/') + 1);
      holder.create_dataset({ name: leaf(names[0]), data: weights.kernel, shape: kernelShape, dtype: '<f' });
      holder.create_dataset({ name: leaf(names[1]), data: weights.bias, shape: [layer.outChannels], dtype: '<f' });
    });
  } finally {
    file.close();
  }
  return written;
}

/** Small non-repeating float32 values in [-1, 1), with a seed per tensor. */
function deterministicValues(length: number, seed: number): Float32Array {
  const values = new Float32Array(length);
  let state = (seed * 2654435761 + 12345) >>> 0;
  for (let index = 0; index < length; index++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[index] = state / 2 ** 31 - 1;
  }
  return values;
}

function product(shape: readonly number[]): number {
  return shape.reduce((total, size) => total * size, 1);
}
