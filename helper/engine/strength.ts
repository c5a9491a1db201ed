/**
 * Style strength 0–100 → β/α, the weight of the style term relative to the content term.
 *
 * Both terms are relative squared errors (see losses.ts), so β/α means the same at every size and for every pair of
 * images. Calibrated on real photos and paintings (golden_gate × starry_night at 128 px): 0 keeps the content exactly
 * (β = 0); 30 (β/α ≈ 0.6) is moderate; the default 50 (β/α = 10) is clearly stylized and still recognizable; 100
 * (β/α = 10⁴) is nearly pure texture. In between, the ratio grows geometrically, because perceived stylization
 * follows the logarithm of β/α.
 */
export const MIN_STYLE_RATIO = 1e-2;
export const MAX_STYLE_RATIO = 1e4;

export function styleRatioForStrength(strength: number): number {
  if (!(strength >= 0 && strength <= 100)) throw new RangeError(`strength must be within 0–100, got ${strength}`);
  if (strength === 0) return 0;
  const decades = Math.log10(MAX_STYLE_RATIO / MIN_STYLE_RATIO);
  return MIN_STYLE_RATIO * 10 ** ((decades * strength) / 100);
}
