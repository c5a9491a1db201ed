import { z } from 'zod';

/** The five layers whose Gram matrices form the style representation (Gatys et al. 2016). */
export const STYLE_LAYERS = ['conv1_1', 'conv2_1', 'conv3_1', 'conv4_1', 'conv5_1'] as const;
export type StyleLayer = (typeof STYLE_LAYERS)[number];

/** The layer whose activations form the content representation. */
export const CONTENT_LAYER = 'conv4_2' as const;

export const MIN_SIZE = 16;
export const MAX_SIZE = 4096;
/** From this long side up, multiScale 'auto' optimizes coarse to fine. */
export const MULTI_SCALE_AUTO_SIZE = 512;

/** The brush size: the style image's long side as a multiple of the output's (see styleScale). */
export const MIN_STYLE_SCALE = 0.25;
export const MAX_STYLE_SCALE = 2;

/**
 * The most each style layer weight, style image weight and the tv weight may be. Far above any use: the layer and
 * style image weights count only relative to each other (they are normalised), and a ratio of 10⁶ between two already
 * leaves the smaller one without effect (0 turns it off); the tv term (a texture's is about 0.03, at most 2) at 10⁶
 * outweighs the strongest style term (β/α = 10⁴ at strength 100, times a style loss below 1 once converged) many
 * times over, which leaves a flat image. Far below where a sum of weights or a weighted term overflows: unbounded,
 * five weights of 1e308 summed to Infinity and the job returned the content as its result.
 */
export const MAX_LOSS_WEIGHT = 1e6;

/** How many style images one job may blend (jcjohnson/neural-style's -style_blend_weights). */
export const MAX_STYLES = 4;
export const NO_POSITIVE_STYLE_WEIGHT = 'at least one style weight must be positive';

/** A style image's weight in a blend of several: relative to the others', 0 leaves it out. */
export const styleWeightSchema = z.number().min(0).max(MAX_LOSS_WEIGHT);

/** The weights of a job's style images, in their order (the CLI's --style-blend). */
export const styleBlendSchema = z
  .array(styleWeightSchema)
  .min(1)
  .max(MAX_STYLES)
  .refine((weights) => weights.some((w) => w > 0), NO_POSITIVE_STYLE_WEIGHT);

/**
 * Options of one style-transfer job. The CLI, the helper's HTTP API and the plugin all validate with this schema,
 * so defaults and limits live here only.
 */
export const stylizeOptionsSchema = z
  .object({
    /** 0 keeps the content, 100 is nearly pure texture; mapped to β/α on a log scale. */
    strength: z.number().min(0).max(100).default(50),
    /** Long side of the output in pixels; the output keeps the content's aspect ratio. */
    size: z.number().int().min(MIN_SIZE).max(MAX_SIZE).default(512),
    iterations: z.number().int().min(1).max(10_000).default(200),
    /** Makes noise initialisation repeatable; runs are deterministic on one backend. */
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
    init: z.enum(['content', 'noise']).default('content'),
    /** The paper recommends average pooling for nicer gradients. */
    pooling: z.enum(['avg', 'max']).default('avg'),
    optimizer: z.enum(['lbfgs', 'adam']).default('lbfgs'),
    /** How many (s, y) pairs L-BFGS keeps. */
    lbfgsHistory: z.number().int().min(1).max(100).default(10),
    /** Adam's step in pixel units (0–255). */
    learningRate: z.number().positive().max(255).default(4),
    /** w_i of conv1_1 … conv5_1; normalised to sum to 1. */
    styleLayerWeights: z
      .array(z.number().min(0).max(MAX_LOSS_WEIGHT))
      .length(STYLE_LAYERS.length)
      .refine((weights) => weights.some((w) => w > 0), 'at least one style layer weight must be positive')
      .default([1, 1, 1, 1, 1]),
    /** Weight of the optional total-variation smoothness term, relative to the content term. */
    tvWeight: z.number().min(0).max(MAX_LOSS_WEIGHT).default(0),
    /**
     * Coarse-to-fine: optimize at a low resolution first, then refine at twice the size until the requested one
     * (Gatys et al. 2017): reaches the style in fewer full-size steps and shows a first preview within seconds. `auto`
     * turns it on from MULTI_SCALE_AUTO_SIZE up; `iterations` is then the total over all scales.
     */
    multiScale: z.enum(['auto', 'on', 'off']).default('auto'),
    /**
     * Keep the content's colours (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer"):
     * `luminance` transfers the style on the luminance only and keeps the content's chrominance; `histogram` first
     * matches the style image's colours (mean and covariance of RGB) to the content's; `off` takes the style's
     * colours too.
     */
    preserveColors: z.enum(['off', 'luminance', 'histogram']).default('off'),
    /**
     * The brush size: each style image is scaled so that its long side is styleScale × the output's before its Gram
     * matrices are taken, so larger values paint with larger strokes.
     */
    styleScale: z.number().min(MIN_STYLE_SCALE).max(MAX_STYLE_SCALE).default(1),
  })
  .strict();

export type StylizeOptionsInput = z.input<typeof stylizeOptionsSchema>;
export type StylizeOptions = z.output<typeof stylizeOptionsSchema>;

/** Turns a zod error into one line per problem, each naming the option: "size: must be >= 16". */
export function describeIssues(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.length > 0 ? `${prefix}${issue.path.join('.')}` : prefix.replace(/\.$/, '') || 'value';
    return `${path}: ${issue.message}`;
  });
}
