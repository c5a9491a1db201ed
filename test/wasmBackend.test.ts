import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { activateTfjsBackend } from '../helper/engine/index.js';
import { wasmThreadingOutcome } from '../helper/engine/tfjs/wasmThreads.js';
import { relativeError } from './support/tensorMath.js';

/** A convolution big enough for XNNPACK to split it across its threads. */
function convolution(): Float32Array {
  return tf.tidy(() => {
    const x = tf.randomNormal([1, 64, 48, 16], 0, 1, 'float32', 1) as tf.Tensor4D;
    const kernel = tf.randomNormal([3, 3, 16, 32], 0, 0.2, 'float32', 2) as tf.Tensor4D;
    return tf.conv2d(x, kernel, 1, 'same').dataSync() as Float32Array;
  });
}

describe('the wasm backend', () => {
  let device: string;

  beforeAll(async () => {
    device = await activateTfjsBackend('wasm');
  });

  it('runs on every core (XNNPACK takes up to 8 threads), and says so', () => {
    const threads = Math.min(availableParallelism(), 8);
    expect(wasmThreadingOutcome()).toEqual({ threads });
    expect(device).toMatch(new RegExp(`^CPU \\(WebAssembly SIMD, ${threads} threads?\\)$`));
  });

  it('computes on its threads what the plain JavaScript backend computes', async () => {
    const threaded = convolution();
    await activateTfjsBackend('cpu');
    try {
      expect(relativeError(threaded, convolution())).toBeLessThan(1e-5);
    } finally {
      await activateTfjsBackend('wasm');
    }
  });

  it('turns an allocation the heap cannot hold into an error that names it, and keeps working', () => {
    const wasm = (tf.backend() as unknown as { wasm: { _malloc(bytes: number): number; _free(address: number): void } }).wasm;
    const refusal = /^out of memory: the WebAssembly heap \(at most 4 GiB\) cannot hold \d+ MB more$/;
    // Sizes near 4 GiB, which the module's malloc would answer with a bogus address instead of 0.
    for (const bytes of [2 ** 32 - 1, 2 ** 32 - 2 ** 20, 2 ** 31]) expect(() => wasm._malloc(bytes)).toThrow(refusal);
    // Blocks that fit one by one, until the heap is full: the one that does not fit is refused, not misplaced.
    const blocks: number[] = [];
    try {
      expect(() => {
        for (let i = 0; i < 4; i++) blocks.push(wasm._malloc(1.5 * 2 ** 30));
      }).toThrow(refusal);
      expect(blocks.length).toBeGreaterThanOrEqual(1);
    } finally {
      for (const address of blocks) wasm._free(address);
    }
    expect(tf.tidy(() => tf.sum(tf.ones([1000])).dataSync()[0])).toBe(1000);
  });
});
