import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { VGG19_CONV_LAYERS, type VggConvLayerSpec } from '../helper/engine/vggLayers.js';
import { WeightsError, type WeightsErrorCode } from '../helper/weights/errors.js';
import { readVggWeightsFile } from '../helper/weights/vggH5.js';
import { writeSyntheticWeights } from './support/kerasH5.js';

/** The real weights live next to the project, never inside it (see ../shared/models/vgg19/README.md). */
const REAL_WEIGHTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../shared/models/vgg19/vgg19-notop.h5');

/** Two small layers in the VGG naming: enough to exercise the layout without writing 80 MB. */
const TWO_LAYERS: readonly VggConvLayerSpec[] = [
  { name: 'conv1_1', kerasName: 'block1_conv1', inChannels: 3, outChannels: 4, poolBefore: false },
  { name: 'conv1_2', kerasName: 'block1_conv2', inChannels: 4, outChannels: 5, poolBefore: false },
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gramstyle-weights-h5-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectWeightsError(promise: Promise<unknown>, code: WeightsErrorCode, path: string): Promise<WeightsError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(WeightsError);
  const weightsError = error as WeightsError;
  expect(weightsError.code, weightsError.message).toBe(code);
  expect(weightsError.message).toContain(path);
  return weightsError;
}

describe('readVggWeightsFile on synthetic Keras-layout files', () => {
  it('round-trips kernels and biases exactly (flat weight names)', async () => {
    const path = join(dir, 'flat.h5');
    const written = await writeSyntheticWeights(path, TWO_LAYERS);
    const weights = await readVggWeightsFile(path, TWO_LAYERS);
    expect([...weights.keys()]).toEqual(['conv1_1', 'conv1_2']);
    for (const [name, expected] of written) {
      expect(weights.get(name)?.kernel).toEqual(expected.kernel);
      expect(weights.get(name)?.bias).toEqual(expected.bias);
    }
    expect(weights.get('conv1_2')?.kernel).toHaveLength(3 * 3 * 4 * 5);
  });

  it('follows slash-nested weight names ("block1_conv1/kernel:0")', async () => {
    const path = join(dir, 'nested.h5');
    const written = await writeSyntheticWeights(path, TWO_LAYERS, { nested: true });
    const weights = await readVggWeightsFile(path, TWO_LAYERS);
    for (const [name, expected] of written) {
      expect(weights.get(name)?.kernel).toEqual(expected.kernel);
      expect(weights.get(name)?.bias).toEqual(expected.bias);
    }
  });
});

describe('readVggWeightsFile on the real VGG-19 weights', () => {
  it('reads all 16 convolutions with the right shapes and finite values', async () => {
    expect(
      existsSync(REAL_WEIGHTS),
      `The real VGG-19 weights are needed for this test; looked for them at ${REAL_WEIGHTS}`,
    ).toBe(true);
    const started = performance.now();
    const weights = await readVggWeightsFile(REAL_WEIGHTS);
    const elapsedMs = performance.now() - started;
    console.info(`read ${REAL_WEIGHTS} in ${elapsedMs.toFixed(0)} ms`);

    expect([...weights.keys()]).toEqual(VGG19_CONV_LAYERS.map((layer) => layer.name));
    for (const layer of VGG19_CONV_LAYERS) {
      const { kernel, bias } = weights.get(layer.name)!;
      expect(kernel, layer.name).toHaveLength(3 * 3 * layer.inChannels * layer.outChannels);
      expect(bias, layer.name).toHaveLength(layer.outChannels);
      expect(bias.every(Number.isFinite), layer.name).toBe(true);
      // Trained weights, not zeros.
      expect(kernel.some((value) => value !== 0), layer.name).toBe(true);
    }
  });
});

describe('readVggWeightsFile errors', () => {
  it('missing file', async () => {
    const path = join(dir, 'does-not-exist.h5');
    await expectWeightsError(readVggWeightsFile(path, TWO_LAYERS), 'missing', path);
  });

  it('random bytes: not HDF5', async () => {
    const path = join(dir, 'random.h5');
    await writeFile(path, randomBytes(64 * 1024));
    const error = await expectWeightsError(readVggWeightsFile(path, TWO_LAYERS), 'not-hdf5', path);
    expect(error.message).toContain('gramstyle doctor');
  });

  it('truncated copy of a valid file', async () => {
    const whole = join(dir, 'whole.h5');
    await writeSyntheticWeights(whole, TWO_LAYERS);
    const bytes = await readFile(whole);
    for (const keep of [Math.floor(bytes.length / 2), 40, 5, 0]) {
      const path = join(dir, `truncated-${keep}.h5`);
      await writeFile(path, bytes.subarray(0, keep));
      await expectWeightsError(readVggWeightsFile(path, TWO_LAYERS), 'truncated', path);
    }
  });

  it('damaged internals behind an intact superblock', async () => {
    const whole = join(dir, 'to-damage.h5');
    await writeSyntheticWeights(whole, TWO_LAYERS);
    const bytes = Buffer.from(await readFile(whole));
    // h5wasm writes a 48-byte version-2 superblock; everything after it (object headers, data) is overwritten.
    bytes.fill(0xa5, 64);
    const path = join(dir, 'damaged.h5');
    await writeFile(path, bytes);
    await expectWeightsError(readVggWeightsFile(path, TWO_LAYERS), 'corrupt', path);
  });

  it('valid HDF5 without layer_names', async () => {
    const path = join(dir, 'no-layer-names.h5');
    await writeSyntheticWeights(path, TWO_LAYERS, { omitLayerNames: true });
    const error = await expectWeightsError(readVggWeightsFile(path, TWO_LAYERS), 'wrong-layout', path);
    expect(error.message).toContain('layer_names');
  });

  it('a kernel with the wrong shape', async () => {
    const path = join(dir, 'wrong-shape.h5');
    await writeSyntheticWeights(path, TWO_LAYERS, { kernelShapes: { block1_conv2: [3, 3, 4, 6] } });
    const error = await expectWeightsError(readVggWeightsFile(path, TWO_LAYERS), 'wrong-layout', path);
    expect(error.message).toContain('block1_conv2 kernel has shape [3, 3, 4, 6], expected [3, 3, 4, 5]');
  });

  it('a file lacking one of the expected layers', async () => {
    const path = join(dir, 'one-layer.h5');
    await writeSyntheticWeights(path, TWO_LAYERS.slice(0, 1));
    const error = await expectWeightsError(readVggWeightsFile(path, TWO_LAYERS), 'wrong-layout', path);
    expect(error.message).toContain('block1_conv2');
  });

  it('non-finite values', async () => {
    const path = join(dir, 'nan.h5');
    await writeSyntheticWeights(path, TWO_LAYERS, {
      edit: (kerasName, weights) => {
        if (kerasName === 'block1_conv2') (weights.bias as Float32Array)[2] = Number.NaN;
      },
    });
    const error = await expectWeightsError(readVggWeightsFile(path, TWO_LAYERS), 'bad-values', path);
    expect(error.message).toContain('block1_conv2 bias');
  });

  it('the real layout check rejects a small file for the full VGG-19 spec', async () => {
    const path = join(dir, 'small-for-vgg19.h5');
    await writeSyntheticWeights(path, TWO_LAYERS);
    expect((await stat(path)).size).toBeLessThan(100_000);
    await expectWeightsError(readVggWeightsFile(path), 'wrong-layout', path);
  });
});
