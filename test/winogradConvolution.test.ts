import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerPlan, type ProviderPlan } from '../helper/engine/index.js';
import { ElementType, OnnxGraphBuilder } from '../helper/engine/onnx/graphBuilder.js';
import { winogradConv3x3, winogradKernel } from '../helper/engine/onnx/winogradConvolution.js';
import { relativeError } from './support/tensorMath.js';

/**
 * Winograd's F(4×4, 3×3) against onnxruntime's own Conv, in one model with both outputs: every height and width
 * modulo 4 (the last tile row and column are partly padding), sides shorter than one tile, and channel counts that
 * are not the network's.
 */
describe('the Winograd convolution', () => {
  const inChannels = 5;
  const outChannels = 7;
  let session: ort.InferenceSession;

  /** A reproducible sequence in [-1, 1). */
  function uniform(count: number, seed: number): Float32Array {
    let state = seed;
    return Float32Array.from({ length: count }, () => {
      state = (state * 48271) % 2147483647;
      return (state / 2147483647) * 2 - 1;
    });
  }

  beforeAll(async () => {
    const kernel = uniform(outChannels * inChannels * 9, 7);
    const g = new OnnxGraphBuilder('winograd_test');
    const x = g.input('x', ElementType.float, [1, inChannels, 'H', 'W']);
    const direct = g.node('Conv', [x, g.floatInitializer('W', kernel, [outChannels, inChannels, 3, 3])], 'direct', { pads: [1, 1, 1, 1], kernel_shape: [3, 3] });
    const winograd = winogradConv3x3(g, x, winogradKernel(g, kernel, outChannels, inChannels, 'test'), outChannels, inChannels, 'test');
    g.output('direct', direct, ElementType.float, [1, outChannels, 'H', 'W']);
    g.output('winograd', winograd, ElementType.float, [1, outChannels, 'H', 'W']);
    session = await ort.InferenceSession.create(g.build(), { graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  });

  afterAll(async () => {
    await session?.release();
  });

  const sides = [1, 2, 3, 4, 5, 6, 7, 8, 9, 13];
  it.each(sides)('equals Conv for height %i at every width', async (height) => {
    for (const width of sides) {
      const x = new ort.Tensor('float32', uniform(inChannels * height * width, height * 100 + width), [1, inChannels, height, width]);
      const outputs = await session.run({ x });
      const expected = outputs.direct!;
      const actual = outputs.winograd!;
      expect(actual.dims).toEqual([1, outChannels, height, width]);
      expect(relativeError(actual.data as Float32Array, expected.data as Float32Array)).toBeLessThan(1e-5);
    }
  });

  it('is what the CPU provider runs, and GPU providers keep Conv', () => {
    expect((providerPlan('onnxruntime') as ProviderPlan).convolutions).toBe('winograd');
    // onnxruntime-node ships WebGPU on Linux x64, where the tests run (a software Vulkan driver is enough to plan it).
    expect((providerPlan('onnxruntime-webgpu') as ProviderPlan).convolutions).toBe('direct');
  });
});
