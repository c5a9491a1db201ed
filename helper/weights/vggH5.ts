import h5wasm, { type Dataset, type File, type Group } from 'h5wasm/node';

import { VGG19_CONV_LAYERS, type ConvWeights, type VggConvLayerSpec, type VggWeights } from '../engine/vggLayers.js';
import { REPLACE_FILE_HINT, WeightsError } from './errors.js';
import { checkHdf5Header } from './hdf5Header.js';

/**
 * Reads the VGG-19 convolution weights from a Keras "notop" HDF5 file, the way Keras does: by the root attribute
 * `layer_names` and each layer group's `weight_names` (kernel, then bias), never by comparing bytes, so files with
 * the same layout but other bytes (another HDF5 writer, re-quantized values) load too.
 *
 * Every kernel must be HWIO [3, 3, in, out] and every bias [out] as `layers` says, with finite values.
 * `layers` defaults to the 16 convolutions of VGG-19; tests pass smaller specs.
 * Throws WeightsError ('missing', 'unreadable', 'not-hdf5', 'truncated', 'corrupt', 'wrong-layout', 'bad-values').
 */
export async function readVggWeightsFile(
  path: string,
  layers: readonly VggConvLayerSpec[] = VGG19_CONV_LAYERS,
): Promise<VggWeights> {
  // The HDF5 library says only "unable to open file" for missing, foreign and truncated files: tell them apart first.
  await checkHdf5Header(path);
  await h5wasmReady();

  let file: File;
  try {
    file = new h5wasm.File(path, 'r');
  } catch (error) {
    throw corruptError(path, error);
  }
  try {
    return readLayers(file, path, layers);
  } catch (error) {
    if (error instanceof WeightsError) throw error;
    throw corruptError(path, error);
  } finally {
    closeQuietly(file);
  }
}

let ready: Promise<void> | undefined;

/**
 * h5wasm's default HDF5 error handler prints to the console and lets reads return garbage or null; the throwing
 * handler turns HDF5 failures into JS errors instead. It is a process-wide setting of the h5wasm module, which is
 * what every caller wants anyway.
 */
function h5wasmReady(): Promise<void> {
  ready ??= h5wasm.ready.then((module) => {
    module.activate_throwing_error_handler();
  });
  return ready;
}

function readLayers(file: File, path: string, layers: readonly VggConvLayerSpec[]): VggWeights {
  const layerNames = stringList(file.attrs['layer_names']?.value);
  if (layerNames === undefined) {
    throw wrongLayoutError(path, 'it has no `layer_names` attribute at its root, so it is not a Keras weights file');
  }
  const weights = new Map<string, ConvWeights>();
  for (const layer of layers) {
    const { kerasName, inChannels, outChannels } = layer;
    if (!layerNames.includes(kerasName)) {
      throw wrongLayoutError(path, `its \`layer_names\` do not include ${kerasName}`);
    }
    const group = file.get(kerasName);
    if (!(group instanceof h5wasm.Group)) {
      throw wrongLayoutError(path, `${kerasName} is listed in \`layer_names\` but is not a group`);
    }
    const weightNames = stringList(group.attrs['weight_names']?.value);
    if (weightNames?.length !== 2) {
      throw wrongLayoutError(
        path,
        `${kerasName} should list two weights (kernel, bias) in its \`weight_names\` attribute, ` +
          `found ${weightNames === undefined ? 'none' : JSON.stringify(weightNames)}`,
      );
    }
    const [kernelName, biasName] = weightNames as [string, string];
    weights.set(layer.name, {
      kernel: readTensor(group, kernelName, [3, 3, inChannels, outChannels], path, `${kerasName} kernel`),
      bias: readTensor(group, biasName, [outChannels], path, `${kerasName} bias`),
    });
  }
  return weights;
}

/** `name` may be a plain dataset name or a nested path ("block1_conv1/kernel:0"): `Group.get` resolves both. */
function readTensor(group: Group, name: string, expectedShape: number[], path: string, what: string): Float32Array {
  const dataset = group.get(name);
  if (!(dataset instanceof h5wasm.Dataset)) {
    throw wrongLayoutError(path, `${what} "${name}" is not a dataset in ${group.path}`);
  }
  const shape = dataset.shape;
  if (shape === null || !sameShape(shape, expectedShape)) {
    throw wrongLayoutError(path, `${what} has shape ${formatShape(shape)}, expected ${formatShape(expectedShape)}`);
  }
  const values = floatValues(dataset);
  if (values === undefined) {
    throw wrongLayoutError(path, `${what} has dtype ${JSON.stringify(dataset.dtype)}, expected float32`);
  }
  const bad = firstNonFinite(values);
  if (bad !== undefined) {
    throw new WeightsError(
      'bad-values',
      `${path}: ${what} holds a non-finite value (${values[bad]} at index ${bad}); the file is damaged. ${REPLACE_FILE_HINT}`,
    );
  }
  return values;
}

function floatValues(dataset: Dataset): Float32Array | undefined {
  const value = dataset.value;
  if (value instanceof Float32Array) return value;
  // Not what Keras writes, but harmless to accept.
  if (value instanceof Float64Array) return Float32Array.from(value);
  return undefined;
}

/** A plain loop: the real file holds 20 M values, and this runs on every load. */
function firstNonFinite(values: Float32Array): number | undefined {
  for (let index = 0; index < values.length; index++) {
    if (!Number.isFinite(values[index]!)) return index;
  }
  return undefined;
}

/** Attribute values of string lists: h5wasm returns string[] (or a bare string for a scalar attribute). */
function stringList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value as string[];
  return undefined;
}

function sameShape(actual: readonly number[], expected: readonly number[]): boolean {
  return actual.length === expected.length && actual.every((size, index) => size === expected[index]);
}

function formatShape(shape: readonly number[] | null): string {
  return shape === null ? 'none (empty dataset)' : `[${shape.join(', ')}]`;
}

function wrongLayoutError(path: string, detail: string): WeightsError {
  return new WeightsError(
    'wrong-layout',
    `${path}: not the VGG-19 "notop" weights in Keras layout: ${detail}. ${REPLACE_FILE_HINT}`,
  );
}

function corruptError(path: string, error: unknown): WeightsError {
  return new WeightsError('corrupt', `${path}: damaged HDF5 file (${hdf5Reason(error)}). ${REPLACE_FILE_HINT}`, {
    cause: error,
  });
}

/**
 * The throwing handler's message is the whole HDF5-DIAG stack; its deepest frame ("#007: … in H5FD_open(): reason")
 * says most precisely what went wrong.
 */
function hdf5Reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const frames = [...message.matchAll(/#\d+: .* in \w+\(\): (.+)$/gm)];
  return frames.at(-1)?.[1]?.trim() ?? message.split('\n')[0] ?? 'unknown error';
}

function closeQuietly(file: File): void {
  try {
    file.close();
  } catch {
    // Closing can only fail for an already-invalid id; the read's own outcome is what matters.
  }
}
