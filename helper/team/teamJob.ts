import { z } from 'zod';
import { stylizeOptionsSchema } from '../../shared/stylizeOptions.js';
import { decodeImage, encodePng } from '../imageio/index.js';
import type { RgbImage } from '../engine/rgbImage.js';
import type { JobInput } from '../jobs/jobQueue.js';
import type { BlobStore } from './blobStore.js';
import { jobBlobs } from './teamKeys.js';

/**
 * What a BullMQ job carries from the gateway to a worker: its owner, the names of its images in the blob store (the
 * images themselves stay out of the queue), the options, and how long its outputs are kept. The gateway writes it,
 * workers on every host read it, so it has a schema like any other contract.
 */
export const teamJobDataSchema = z.object({
  owner: z.string(),
  content: z.string(),
  style: z.string(),
  styleKey: z.string(),
  options: stylizeOptionsSchema,
  /** How long previews and the result are kept after they are written. */
  keepFinishedMs: z.number().int().positive(),
});
export type TeamJobData = z.infer<typeof teamJobDataSchema>;

/** The prepared images go in as PNG: lossless, and a third of the raw pixels or less. */
async function putImage(store: BlobStore, name: string, image: RgbImage, ttlMs: number): Promise<void> {
  await store.put(name, { bytes: await encodePng(image), meta: { width: image.width, height: image.height } }, ttlMs);
}

/** Stores a job's images under its id (kept for `ttlMs`, as long as it may wait) and returns what the job carries. */
export async function storeJobInput(
  store: BlobStore,
  jobId: string,
  owner: string,
  input: JobInput,
  { ttlMs, keepFinishedMs }: { ttlMs: number; keepFinishedMs: number },
): Promise<TeamJobData> {
  const content = jobBlobs.content(jobId);
  const style = jobBlobs.style(jobId);
  await Promise.all([putImage(store, content, input.content, ttlMs), putImage(store, style, input.style, ttlMs)]);
  return { owner, content, style, styleKey: input.styleKey, options: input.options, keepFinishedMs };
}

/** The job's images, back as pixels; null when they are gone (they expired before any worker was free). */
export async function loadJobInput(store: BlobStore, data: TeamJobData): Promise<JobInput | null> {
  const [content, style] = await Promise.all([store.get(data.content), store.get(data.style)]);
  if (!content || !style) return null;
  const [contentImage, styleImage] = await Promise.all([
    decodeImage(content.bytes, 'content image'),
    decodeImage(style.bytes, 'style image'),
  ]);
  return { content: contentImage, style: styleImage, styleKey: data.styleKey, options: data.options };
}

/** Every blob name a job's inputs use. */
export function inputBlobNames(data: Pick<TeamJobData, 'content' | 'style'>): string[] {
  return [data.content, data.style];
}
