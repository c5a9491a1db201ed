import type { StylizeOptions } from './stylizeOptions.js';

/**
 * The strength preview row: small previews of the same job at four strengths around the current one, from one
 * request, so that a designer can pick the strength by eye before the full-size job. The helper renders them one
 * after the other with the same Gram targets; the plugin shows them and sets the strength a click picks.
 */
export const STRENGTH_ROW_LENGTH = 4;
/** Apart in strength: 10 is β/α × 4, a step the eye sees at once (see helper/engine/strength.ts). */
export const STRENGTH_ROW_SPACING = 10;
/** Long side of each preview. */
export const STRENGTH_ROW_SIZE = 128;
/**
 * Iterations of each preview: each continues from the weaker one (helper/engine/strengthRow.ts), so the stronger ones
 * come near what 20–40 iterations from the content give, and the row of 40 takes seconds at 128 px.
 */
export const STRENGTH_ROW_ITERATIONS = 10;

/**
 * The row's strengths, lowest first: evenly spaced around `current` (35, 45, 55, 65 around 50), whole numbers,
 * shifted to stay within 0–100 (0, 10, 20, 30 around 5).
 */
export function strengthRow(current: number): number[] {
  const span = STRENGTH_ROW_SPACING * (STRENGTH_ROW_LENGTH - 1);
  const first = Math.min(100 - span, Math.max(0, Math.round(current - span / 2)));
  return Array.from({ length: STRENGTH_ROW_LENGTH }, (_, i) => first + i * STRENGTH_ROW_SPACING);
}

/**
 * The options each preview of a row runs with: the job's own (style images, colours, brush size, pooling …) at the
 * row's size and iterations, in one scale. `strength` is each preview's own.
 */
export function strengthRowOptions(options: StylizeOptions): StylizeOptions {
  return { ...options, size: STRENGTH_ROW_SIZE, iterations: STRENGTH_ROW_ITERATIONS, multiScale: 'off' };
}
