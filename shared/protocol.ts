import { z } from 'zod';
import { STRENGTH_ROW_LENGTH } from './strengthRow.js';
import { MAX_STYLES, NO_POSITIVE_STYLE_WEIGHT, styleWeightSchema, stylizeOptionsSchema } from './stylizeOptions.js';
import { stylizeProgressSchema, type StylizeProgress } from './stylizeProgress.js';

/**
 * The helper's HTTP API (version 1), shared by the helper (which validates requests and builds answers with these
 * schemas) and the plugin (which validates answers). Types are inferred from the schemas, never written twice.
 */
export const DEFAULT_HELPER_PORT = 7415;
export const API_PREFIX = '/v1';

export const errorCodeSchema = z.enum([
  'bad-request',
  'invalid-options',
  'invalid-image',
  'unauthorized',
  'forbidden-host',
  'not-found',
  'payload-too-large',
  'queue-full',
  'not-ready',
  'not-finished',
  'job-failed',
  'internal',
]);
export type ErrorCode = z.infer<typeof errorCodeSchema>;

/** Every error answer: `{"error": {"code", "message"}}`. */
export const errorBodySchema = z.object({
  error: z.object({ code: errorCodeSchema, message: z.string() }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** The engine's memory as of its start or its last job. */
export const engineMemorySchema = z.object({
  /** Live TensorFlow.js tensors, the network's weights and the style cache included. */
  tensors: z.number().int(),
  /** Of which held by the style Gram cache. */
  cachedTensors: z.number().int(),
  bytes: z.number(),
  /** Live onnxruntime sessions (two per pooling used, on the onnxruntime backends). */
  sessions: z.number().int(),
});
export type EngineMemory = z.infer<typeof engineMemorySchema>;

/** What the helper says of itself to anyone who can reach it: nothing that reveals the machine or its files. */
export const healthSchema = z.object({
  name: z.literal('gramstyle'),
  version: z.string(),
  apiVersion: z.literal(1),
  /**
   * New every time the helper process starts. A client that sees it change while it had a job knows the job was lost
   * with the helper that ran it (a crash, kill -9, a logout) and can say so.
   */
  instanceId: z.string(),
  /** starting: loading the backend and weights; ready: taking jobs; error: could not start (details say why). */
  status: z.enum(['starting', 'ready', 'error']),
  weights: z.object({
    status: z.enum(['locating', 'downloading', 'loading', 'ready', 'error']),
    /** 0–1 while downloading, else null. */
    progress: z.number().min(0).max(1).nullable(),
  }),
  /** Only for a request that carries the right token (else null): paths, errors and the engine. */
  details: z
    .object({
      message: z.string().nullable(),
      backend: z.string().nullable(),
      device: z.string().nullable(),
      weightsPath: z.string().nullable(),
      queueLength: z.number().int().min(0),
      busy: z.boolean(),
      engineMemory: engineMemorySchema.nullable(),
    })
    .nullable(),
});
export type Health = z.infer<typeof healthSchema>;

/**
 * Base64, possibly wrapped in lines, padded at the end only. Checked in one pass: the character classes do not
 * overlap, so a mismatch costs one step back per character (the previous pattern let a run of newlines be split
 * between two classes in every way: 100 KB of newlines and one bad character blocked the helper for seconds).
 */
const BASE64_TEXT = /^[A-Za-z0-9+/\s]*(?:=\s*){0,2}$/;

/** Images travel as base64 PNG, JPEG or WebP bytes (optionally as a data: URL). */
const base64ImageSchema = z
  .string()
  .min(1, 'is empty')
  .transform((value) => value.replace(/^data:image\/[a-z+.-]+;base64,/i, ''))
  .refine((value) => BASE64_TEXT.test(value), 'is not base64');

/**
 * What a job makes: `stylize`, the image at options.size; `strength-row`, small previews of the same job at
 * STRENGTH_ROW_LENGTH strengths around options.strength (shared/strengthRow.ts), for picking the strength.
 */
export const jobKindSchema = z.enum(['stylize', 'strength-row']);
export type JobKind = z.infer<typeof jobKindSchema>;

/** One of several style images and its weight in the blend (equal weights when omitted). */
export const weightedStyleSchema = z.object({ image: base64ImageSchema, weight: styleWeightSchema.default(1) }).strict();

/**
 * A job: the content and either `style` (one image) or `styles` (1–MAX_STYLES images with weights, whose Gram
 * matrices are blended). Parsed, the style images are always `styles`.
 */
export const createJobRequestSchema = z
  .object({
    kind: jobKindSchema.default('stylize'),
    content: base64ImageSchema,
    style: base64ImageSchema.optional(),
    styles: z
      .array(weightedStyleSchema)
      .min(1)
      .max(MAX_STYLES)
      .refine((styles) => styles.some((style) => style.weight > 0), NO_POSITIVE_STYLE_WEIGHT)
      .optional(),
    options: stylizeOptionsSchema.prefault({}),
  })
  .strict()
  .superRefine((request, context) => {
    if (request.style !== undefined && request.styles !== undefined) {
      context.addIssue({ code: 'custom', path: ['styles'], message: 'give either style (one image) or styles, not both' });
    } else if (request.style === undefined && request.styles === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['style'],
        message: `missing: give style (one image) or styles (1–${MAX_STYLES} images with weights)`,
      });
    }
  })
  .transform(({ style, styles, ...job }) => ({ ...job, styles: styles ?? [{ image: style!, weight: 1 }] }));
export type CreateJobRequest = z.input<typeof createJobRequestSchema>;

/** GET /v1/pairing: answers 200 with this for a good token, 401 otherwise; starts nothing. */
export const pairingResponseSchema = z.object({ paired: z.literal(true) });
export type PairingResponse = z.infer<typeof pairingResponseSchema>;

export const createJobResponseSchema = z.object({ id: z.string() });
export type CreateJobResponse = z.infer<typeof createJobResponseSchema>;

export const jobStateSchema = z.enum(['queued', 'running', 'done', 'failed', 'canceled']);
export type JobState = z.infer<typeof jobStateSchema>;

/** A job's progress is the engine's own record (shared/stylizeProgress.ts), passed on as it is. */
export const jobProgressSchema = stylizeProgressSchema;
export type JobProgress = StylizeProgress;

export const jobPreviewSchema = z.object({
  iteration: z.number().int().min(0),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** base64 PNG */
  png: z.string(),
});
export type JobPreview = z.infer<typeof jobPreviewSchema>;

/**
 * The query of GET /v1/jobs/:id. previewAfter names the iteration of the last preview the client has: the answer then
 * carries a preview only if a newer one exists (else preview is null), so that polling does not send the same PNG
 * again and again. Without it, the answer carries the latest preview.
 */
export const jobStatusQuerySchema = z.object({
  previewAfter: z
    .string()
    .regex(/^\d{1,9}$/, 'must be a non-negative integer: the iteration of the last preview the client has')
    .transform(Number)
    .optional(),
});
export type JobStatusQuery = z.input<typeof jobStatusQuerySchema>;

export const jobStatusSchema = z.object({
  id: z.string(),
  kind: jobKindSchema,
  status: jobStateSchema,
  /** 1 = next to run; null unless queued. */
  queuePosition: z.number().int().min(1).nullable(),
  progress: jobProgressSchema,
  preview: jobPreviewSchema.nullable(),
  /** Set once done: the result's size, of each preview for a strength row (fetch it from /v1/jobs/:id/result). */
  result: z.object({ width: z.number().int().positive(), height: z.number().int().positive() }).nullable(),
  error: z.object({ code: errorCodeSchema, message: z.string() }).nullable(),
});
export type JobStatus = z.infer<typeof jobStatusSchema>;

/** GET /v1/jobs/:id/result of a strength row: its previews, lowest strength first. */
export const strengthRowResultSchema = z.object({
  previews: z
    .array(
      z.object({
        strength: z.number().min(0).max(100),
        width: z.number().int().positive(),
        height: z.number().int().positive(),
        /** base64 PNG */
        png: z.string(),
      }),
    )
    .length(STRENGTH_ROW_LENGTH),
});
export type StrengthRowResult = z.infer<typeof strengthRowResultSchema>;

/** Header carrying the pairing token: `Authorization: Bearer <token>`. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}
