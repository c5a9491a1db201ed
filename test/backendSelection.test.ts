import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { stylizeOptionsSchema } from '../shared/stylizeOptions.js';
import {
  oneStyle,
  BACKEND_NAMES,
  defaultCandidates,
  selectBackend,
  StyleTransfer,
  type BackendCandidate,
  type BackendSelection,
  type GatysNetwork,
  type VggWeights,
} from '../helper/engine/index.js';
import { readVggWeightsFile } from '../helper/weights/vggH5.js';
import { loadSharedImage, realWeightsPath } from './support/sharedAssets.js';

let weights: VggWeights;

beforeAll(async () => {
  weights = await readVggWeightsFile(realWeightsPath());
});

/** This machine: no GPU, no native TensorFlow, onnxruntime without its CUDA provider, Mesa's lavapipe for Vulkan. */
describe('choosing a backend on this machine', () => {
  let auto: BackendSelection;

  beforeAll(async () => {
    auto = await selectBackend('auto', weights);
  });

  it('auto takes onnxruntime on the CPU, after saying why each better one was passed over', () => {
    expect(auto.name).toBe('onnxruntime');
    expect(auto.device).toMatch(/^CPU \(onnxruntime, \d+ threads?\)$/);
    const better = BACKEND_NAMES.slice(0, BACKEND_NAMES.indexOf('onnxruntime'));
    expect(auto.skipped.map(({ name }) => name)).toEqual(better);
    const reason = (name: string) => auto.skipped.find((skip) => skip.name === name)!.reason;
    expect(reason('tensorflow-gpu')).toMatch(/tfjs-node-gpu is not installed|without its native TensorFlow library/);
    expect(reason('onnxruntime-cuda')).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node');
    expect(reason('onnxruntime-dml')).toBe('DirectML is only on Windows');
    expect(reason('onnxruntime-coreml')).toBe('CoreML is only on macOS');
    // The software Vulkan driver (lavapipe) would work, but auto never takes a GPU that is not one.
    expect(reason('onnxruntime-webgpu')).toMatch(/software.*auto does not take it \(name it with --backend onnxruntime-webgpu/);
  });

  it('naming a provider that is not here is a clear error', async () => {
    await expect(selectBackend('onnxruntime-cuda', weights)).rejects.toThrow(
      /^backend onnxruntime-cuda cannot run here: .*npm ci skips its download.*ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node/,
    );
    await expect(selectBackend('onnxruntime-dml', weights)).rejects.toThrow('backend onnxruntime-dml cannot run here: DirectML is only on Windows');
  });

  it('the chosen network runs a job', async () => {
    const content = await loadSharedImage('golden_gate.jpg', 32);
    const style = await loadSharedImage('starry_night.jpg', 32);
    const result = await new StyleTransfer(auto.network).run({
      content,
      styles: oneStyle(style),
      options: stylizeOptionsSchema.parse({ size: 32, iterations: 3 }),
    });
    expect([result.image.width, result.image.height]).toEqual([content.width, content.height]);
    auto.network.dispose();
  });
});

/**
 * The GPU path for real: onnxruntime's WebGPU provider (Dawn on Vulkan) on Mesa's software driver, lavapipe
 * (../shared/setup/software-vulkan.sh; .ci/run installs it). Slow, but the same code as on a GPU.
 */
describe('onnxruntime on WebGPU (software Vulkan)', () => {
  const webgpu = () => defaultCandidates().find((candidate) => candidate.name === 'onnxruntime-webgpu')!;

  /** The WebGPU provider with its gradient made 1% larger: a provider with a broken kernel. */
  const disagreeing: BackendCandidate = {
    name: 'onnxruntime-webgpu',
    autoSkipReason: () => null,
    async load(vgg) {
      const { network, device } = await webgpu().load(vgg);
      return { network: withGradientScaled(network, 1.01), device };
    },
  };

  it('when named, passes its known-answer check against the CPU provider and runs a small job', async () => {
    const selection = await selectBackend('onnxruntime-webgpu', weights);
    try {
      expect(selection.name).toBe('onnxruntime-webgpu');
      expect(selection.device).toBe('software GPU (onnxruntime WebGPU)');
      const content = await loadSharedImage('golden_gate.jpg', 32);
      const style = await loadSharedImage('starry_night.jpg', 32);
      const before = tf.memory().numTensors;
      const progress: number[] = [];
      const result = await new StyleTransfer(selection.network).run({
        content,
        styles: oneStyle(style),
        options: stylizeOptionsSchema.parse({ size: 32, iterations: 3 }),
        onProgress: (event) => void progress.push(event.progress.styleLoss!),
      });
      expect(tf.memory().numTensors).toBe(before);
      expect(result.image.data.length).toBe(content.width * content.height * 3);
      expect(progress[2]!).toBeLessThan(progress[0]!);
    } finally {
      selection.network.dispose();
    }
  }, 300_000);

  it('a provider that disagrees with the reference is skipped by auto, and an error when named', async () => {
    const candidates = [disagreeing, ...defaultCandidates().filter((candidate) => candidate.name === 'onnxruntime')];
    const selection = await selectBackend('auto', weights, candidates);
    selection.network.dispose();
    expect(selection.name).toBe('onnxruntime');
    expect(selection.skipped).toEqual([
      { name: 'onnxruntime-webgpu', reason: expect.stringMatching(/^its results disagree with the reference \(gradient off by 1\.0e-2 relative\)/) },
    ]);
    await expect(selectBackend('onnxruntime-webgpu', weights, [disagreeing])).rejects.toThrow(
      /^backend onnxruntime-webgpu cannot run here: its results disagree with the reference/,
    );
  }, 300_000);
});

function withGradientScaled(network: GatysNetwork, factor: number): GatysNetwork {
  return {
    contentFeatures: (image, pooling) => network.contentFeatures(image, pooling),
    styleGrams: (image, pooling) => network.styleGrams(image, pooling),
    objective(targets, objectiveWeights, pooling) {
      const inner = network.objective(targets, objectiveWeights, pooling);
      return {
        async evaluate(image) {
          const evaluation = await inner.evaluate(image);
          const gradient = tf.tidy(() => tf.mul(evaluation.gradient, factor) as tf.Tensor4D);
          evaluation.gradient.dispose();
          return { ...evaluation, gradient };
        },
        dispose: () => inner.dispose(),
      };
    },
    assertFits: (job) => network.assertFits(job),
    dispose: () => network.dispose(),
  };
}

