import { z } from 'zod';
import { STRENGTH_ROW_LENGTH } from './strengthRow.js';
import { MAX_STYLES, NO_POSITIVE_STYLE_WEIGHT, styleWeightSchema, stylizeOptionsSchema } from './stylizeOptions.js';
import { stylizeProgressSchema, type StylizeProgress } from './stylizeProgress.js';

/**
 * The helper's HTTP API (version 1), shared by the helper (which validates requests and builds answers with these
 * schemas) and the plugin (which validates answers). Types are inferred from the schemas, never written twice.
 */
export const DEFAULT_HELPER_PORT = 7415;
/** Where `gramstyle gateway` listens unless told otherwise: beside a local helper on the same machine. */
export const DEFAULT_GATEWAY_PORT = 7416;
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
   * helper: `gramstyle serve`, one machine's engine for its own user; gateway: `gramstyle gateway`, a team's server
   * whose jobs run on worker hosts, each user with a personal token.
   */
  role: z.enum(['helper', 'gateway']),
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
      /** The user the token belongs to on a gateway; null on a helper (its one token is its user's). */
      user: z.string().nullable(),
      /** Workers taking a gateway's jobs; null on a helper (it runs its jobs itself). */
      workers: z.number().int().min(0).nullable(),
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
export type WeightedStyle = z.output<typeof weightedStyleSchema>;

/**
 * What every job of a request shares: either `style` (one image) or `styles` (1–MAX_STYLES images with weights, whose
 * Gram matrices are blended), and the options. Parsed, the style images are always `styles` (see oneStyleForm).
 */
const jobSettingsShape = {
  style: base64ImageSchema.optional(),
  styles: z
    .array(weightedStyleSchema)
    .min(1)
    .max(MAX_STYLES)
    .refine((styles) => styles.some((style) => style.weight > 0), NO_POSITIVE_STYLE_WEIGHT)
    .optional(),
  options: stylizeOptionsSchema.prefault({}),
};

interface StyleForms {
  readonly style?: string | undefined;
  readonly styles?: WeightedStyle[] | undefined;
}

/** A request names its style images one way: style or styles, not both, not neither. */
function requireOneStyleForm(request: StyleForms, context: z.RefinementCtx): void {
  if (request.style !== undefined && request.styles !== undefined) {
    context.addIssue({ code: 'custom', path: ['styles'], message: 'give either style (one image) or styles, not both' });
  } else if (request.style === undefined && request.styles === undefined) {
    context.addIssue({
      code: 'custom',
      path: ['style'],
      message: `missing: give style (one image) or styles (1–${MAX_STYLES} images with weights)`,
    });
  }
}

/** The style images as `styles`, however the request named them. */
function oneStyleForm<T extends StyleForms>({ style, styles, ...request }: T): Omit<T, 'style' | 'styles'> & { styles: WeightedStyle[] } {
  return { ...request, styles: styles ?? [{ image: style!, weight: 1 }] };
}

/** A job: its kind, the content, and the job settings. */
export const createJobRequestSchema = z
  .object({ kind: jobKindSchema.default('stylize'), content: base64ImageSchema, ...jobSettingsShape })
  .strict()
  .superRefine(requireOneStyleForm)
  .transform(oneStyleForm);
export type CreateJobRequest = z.input<typeof createJobRequestSchema>;

/** The most content images one batch may carry. */
export const MAX_BATCH_JOBS = 64;

/**
 * POST /v1/batches: many content images against the same style images, one stylize job each, in one request (answered with the jobs'
 * ids in the order of `contents`). Accepted or refused whole: a batch over the queue's bound or the user's quota is a
 * 429 and queues nothing.
 */
export const createBatchRequestSchema = z
  .object({ contents: z.array(base64ImageSchema).min(1).max(MAX_BATCH_JOBS), ...jobSettingsShape })
  .strict()
  .superRefine(requireOneStyleForm)
  .transform(oneStyleForm);
export type CreateBatchRequest = z.input<typeof createBatchRequestSchema>;

export const createBatchResponseSchema = z.object({ jobs: z.array(z.string()).min(1) });
export type CreateBatchResponse = z.infer<typeof createBatchResponseSchema>;

/** GET /v1/pairing: answers 200 with this for a good token, 401 otherwise; starts nothing. */
export const pairingResponseSchema = z.object({ paired: z.literal(true) });
export type PairingResponse = z.infer<typeof pairingResponseSchema>;

export const createJobResponseSchema = z.object({ id: z.string() });
export type CreateJobResponse = z.infer<typeof createJobResponseSchema>;

export const jobStateSchema = z.enum(['queued', 'running', 'done', 'failed', 'canceled']);
export type JobState = z.infer<typeof jobStateSchema>;

/** The states a job does not leave: a client stops polling it there. */
export const FINISHED_JOB_STATES: ReadonlySet<JobState> = new Set(['done', 'failed', 'canceled']);

export function isFinishedJobState(state: JobState): boolean {
  return FINISHED_JOB_STATES.has(state);
}

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
  /**
   * How many times the job started over because the host running it stopped (a gateway's worker that died: the job
   * went back to the queue and another worker took it). Always 0 on a helper, where such a job is lost.
   */
  restarts: z.number().int().min(0),
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
