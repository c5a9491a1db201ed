import { z } from 'zod';

/**
 * Where a style-transfer job is: the one record the engine reports after every iteration, which the CLI's progress
 * bar, the helper's job status and the plugin's panel all read as it is (like crowsonkb/style-transfer-pytorch's
 * STIterate). Before the first iteration (a queued job) the measurements are null.
 */
export const scaleProgressSchema = z.object({
  /** 0-based, coarsest first; count − 1 is the output size. */
  index: z.number().int().min(0),
  count: z.number().int().min(1),
  width: z.number().int().min(1),
  height: z.number().int().min(1),
  /** Iterations this scale runs. */
  iterations: z.number().int().min(1),
});
export type ScaleProgress = z.infer<typeof scaleProgressSchema>;

export const stylizeProgressSchema = z.object({
  /** 1-based number of the iteration just finished, counted over all scales; 0 before the first. */
  iteration: z.number().int().min(0),
  /** Iterations of the whole job, all scales together. */
  total: z.number().int().min(1),
  /** L_content and L_style at the point the optimizer accepted (unweighted), measured at the current scale. */
  contentLoss: z.number().nullable(),
  styleLoss: z.number().nullable(),
  /** The relative squared Gram error of each style layer (conv1_1 … conv5_1); styleLoss is their weighted mean. */
  styleLayerLosses: z.array(z.number()).nullable(),
  /** The scale this iteration ran at; a single-scale job has one, of the output size. */
  scale: scaleProgressSchema.nullable(),
  elapsedMs: z.number().min(0),
  /**
   * Time left: each remaining iteration at the measured cost of an iteration at its scale (a coarser scale's cost
   * scaled by the pixels of the finer ones not reached yet). Null before the first iteration.
   */
  etaMs: z.number().min(0).nullable(),
});
export type StylizeProgress = z.infer<typeof stylizeProgressSchema>;

/** The progress of a job that has not started. */
export function notStartedProgress(total: number): StylizeProgress {
  return { iteration: 0, total, contentLoss: null, styleLoss: null, styleLayerLosses: null, scale: null, elapsedMs: 0, etaMs: null };
}
