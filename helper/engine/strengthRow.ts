import * as tf from '@tensorflow/tfjs-core';
import type { StyleGrams } from './gatysNetwork.js';
import type { RgbImage } from './rgbImage.js';
import type { StyleTargetCache } from './styleTargets.js';
import type { ProgressEvent, StyleTransfer, StylizeRequest } from './styleTransfer.js';

export interface StrengthRowRequest extends StylizeRequest {
  /** The strengths to render, weakest first (each continues from the one before); options.strength is not used. */
  readonly strengths: readonly number[];
}

export interface StrengthRowResult {
  readonly images: ReadonlyArray<{ readonly strength: number; readonly image: RgbImage }>;
  readonly elapsedMs: number;
}

/**
 * The same job at several strengths, weakest first: what a designer compares to pick the strength. The style targets
 * do not depend on the strength, so each scale's are computed once for the whole row (or come from the caller's
 * cache). Progress counts the iterations of all images: the second image's first iteration is
 * options.iterations + 1 of strengths.length × options.iterations; previews are the current image's.
 *
 * Each image starts from the previous (weaker) one's result, a continuation in β/α, rather than from the content: in
 * a few iterations a strong style gets much further from a start that already has some of it. Measured at 128 px,
 * 10 iterations each, strengths 35–65 (golden_gate × starry_night, onnxruntime): each started from the content, the
 * Gram distances to the style were 0.45, 0.32, 0.32, 0.33, so the 65 preview looked no more stylized than the 55
 * one (at 15 iterations still 0.22 after 0.21); continued, 0.45, 0.24, 0.17, 0.14, what 20–40 iterations from the
 * content give, and the content distances still rise with the strength.
 */
export async function renderStrengthRow(transfer: StyleTransfer, request: StrengthRowRequest): Promise<StrengthRowResult> {
  const { strengths, options, onProgress, styleTargetCache: callerCache, ...job } = request;
  const startedAt = performance.now();
  const total = options.iterations * strengths.length;
  const computed = new Map<string, Promise<StyleGrams>>();
  const owned: StyleGrams[] = [];
  const styleTargetCache: StyleTargetCache = (style, key, compute) => {
    const rowKey = `${style}:${key}`;
    let grams = computed.get(rowKey);
    if (!grams) {
      grams = callerCache
        ? callerCache(style, key, compute)
        : compute().then((fresh) => {
            owned.push(fresh);
            return fresh;
          });
      computed.set(rowKey, grams);
    }
    return grams;
  };
  try {
    const images: Array<{ strength: number; image: RgbImage }> = [];
    for (const [index, strength] of strengths.entries()) {
      const before = index * options.iterations;
      const result = await transfer.run({
        ...job,
        options: { ...options, strength },
        styleTargetCache,
        start: images.at(-1)?.image,
        onProgress: (event: ProgressEvent) => {
          const iteration = before + event.progress.iteration;
          const elapsedMs = performance.now() - startedAt;
          // Every image of the row has the same size and iterations: the time left is the mean so far.
          const etaMs = (elapsedMs / iteration) * (total - iteration);
          return onProgress?.({ ...event, progress: { ...event.progress, iteration, total, elapsedMs, etaMs } });
        },
      });
      images.push({ strength, image: result.image });
    }
    return { images, elapsedMs: performance.now() - startedAt };
  } finally {
    for (const grams of owned) tf.dispose([...grams]);
  }
}
