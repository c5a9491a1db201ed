import { z } from 'zod';
import { strengthRowResultSchema } from '../../shared/protocol.js';
import { stylizeOptionsSchema } from '../../shared/stylizeOptions.js';
import { stylizeProgressSchema } from '../../shared/stylizeProgress.js';
import { decodeImage, encodePng } from '../imageio/index.js';
import { styleImageLabel } from '../engine/styleTargets.js';
import type { RgbImage } from '../engine/rgbImage.js';
import type { JobInput, JobOwner } from '../jobs/jobQueue.js';
import { type JobResult, resultSize, strengthRowAnswer } from '../jobs/jobResult.js';
import type { Blob, BlobStore } from './blobStore.js';
import { jobBlobs } from './teamKeys.js';

/** What the job makes (as the engine's EngineJobKind): one image, or the strength row at these strengths. */
const teamJobKindSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('stylize') }),
  z.object({ kind: z.literal('strength-row'), strengths: z.array(z.number().min(0).max(100)).min(1) }),
]);

/**
 * What a BullMQ job carries from the gateway to a worker: its kind, its owner, the names of its images in the blob
 * store (the images themselves stay out of the queue; each style image has its own blob, with its weight and the key
 * naming its pixels), the options, and how long its outputs are kept. The gateway writes it, workers on every host
 * read it, so it has a schema like any other contract.
 */
export const teamJobDataSchema = teamJobKindSchema.and(
  z.object({
    /** The owner's stable id (UserDirectory): whose job it is. */
    ownerId: z.string(),
    /** The owner's name, for logs. */
    ownerName: z.string(),
    content: z.string(),
    styles: z.array(z.object({ blob: z.string(), weight: z.number().min(0), key: z.string() })).min(1),
    options: stylizeOptionsSchema,
    /** How long previews and the result are kept after they are written. */
    keepFinishedMs: z.number().int().positive(),
  }),
);
export type TeamJobData = z.infer<typeof teamJobDataSchema>;

/**
 * A job's BullMQ progress: the engine's record, tagged with the attempt that wrote it (BullMQ's attemptsStarted), so
 * that the gateway shows nothing a worker that lost the job (killed, or cut off from Redis) wrote; null when the
 * attempt has not run an iteration yet. Previews carry their attempt in their meta the same way.
 */
export const attemptProgressSchema = z.object({
  attempt: z.number().int().min(1),
  progress: stylizeProgressSchema.nullable(),
});
export type AttemptProgress = z.infer<typeof attemptProgressSchema>;

/** The prepared images go in as PNG: lossless, and a third of the raw pixels or less. */
async function putImage(store: BlobStore, name: string, image: RgbImage, ttlMs: number): Promise<void> {
  await store.put(name, { bytes: await pngOf(image), meta: { width: image.width, height: image.height } }, ttlMs);
}

/** PNGs of the prepared images, by image: the jobs of a batch share their style images, encoded once for all. */
const encodedImages = new WeakMap<RgbImage, Promise<Buffer>>();

function pngOf(image: RgbImage): Promise<Buffer> {
  let png = encodedImages.get(image);
  if (png === undefined) {
    png = encodePng(image);
    encodedImages.set(image, png);
  }
  return png;
}

/** Stores a job's images under its id (kept for `ttlMs`, as long as it may wait) and returns what the job carries. */
export async function storeJobInput(
  store: BlobStore,
  jobId: string,
  owner: JobOwner,
  input: JobInput,
  { ttlMs, keepFinishedMs }: { ttlMs: number; keepFinishedMs: number },
): Promise<TeamJobData> {
  const content = jobBlobs.content(jobId);
  const styles = input.styles.map(({ weight, key }, index) => ({ blob: jobBlobs.style(jobId, index), weight, key }));
  await Promise.all([
    putImage(store, content, input.content, ttlMs),
    ...input.styles.map(({ image }, index) => putImage(store, styles[index]!.blob, image, ttlMs)),
  ]);
  const kind = input.kind === 'strength-row' ? { kind: input.kind, strengths: [...input.strengths] } : { kind: input.kind };
  return { ...kind, ownerId: owner.id, ownerName: owner.name, content, styles, options: input.options, keepFinishedMs };
}

/** The job's images, back as pixels; null when they are gone (they expired before any worker was free). */
export async function loadJobInput(store: BlobStore, data: TeamJobData): Promise<JobInput | null> {
  const blobs = await Promise.all([store.get(data.content), ...data.styles.map(({ blob }) => store.get(blob))]);
  if (blobs.some((blob) => blob === null)) return null;
  const [content, ...styles] = await Promise.all(
    blobs.map((blob, index) => decodeImage(blob!.bytes, index === 0 ? 'content image' : styleImageLabel(index - 1, data.styles.length))),
  );
  const weighted = styles.map((image, index) => ({ image, weight: data.styles[index]!.weight, key: data.styles[index]!.key }));
  const job = { content: content!, styles: weighted, options: data.options };
  return data.kind === 'strength-row' ? { kind: data.kind, strengths: data.strengths, ...job } : { kind: data.kind, ...job };
}

/** Every blob name a job's inputs use. */
export function inputBlobNames(data: Pick<TeamJobData, 'content' | 'styles'>): string[] {
  return [data.content, ...data.styles.map(({ blob }) => blob)];
}

/**
 * A result as one blob: a stylized image's PNG, or a strength row's previews as the JSON the API answers with (small
 * PNGs, base64). Its meta holds the size status reports (each preview's, for a row).
 */
export function resultBlob(result: JobResult): Blob {
  if (result.kind === 'stylize') return { bytes: result.png, meta: { width: result.width, height: result.height } };
  return { bytes: Buffer.from(JSON.stringify(strengthRowAnswer(result))), meta: resultSize(result) };
}

/** The result a worker stored (resultBlob), back as the queue gives it. */
export function resultFromBlob(kind: JobResult['kind'], blob: Blob): JobResult {
  if (kind === 'stylize') return { kind, png: blob.bytes, width: blob.meta.width!, height: blob.meta.height! };
  const { previews } = strengthRowResultSchema.parse(JSON.parse(blob.bytes.toString('utf8')));
  return { kind, previews: previews.map(({ png, ...preview }) => ({ ...preview, png: Buffer.from(png, 'base64') })) };
}
