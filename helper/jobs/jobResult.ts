import { strengthRowResultSchema, type StrengthRowResult } from '../../shared/protocol.js';
import type { RgbImage } from '../engine/rgbImage.js';
import { encodePng } from '../imageio/index.js';
import type { EngineJobResult } from './workerMessages.js';

/** A PNG and its size. */
export interface EncodedImage {
  readonly png: Buffer;
  readonly width: number;
  readonly height: number;
}

/** A finished job's images, as PNG: the stylized image, or a strength row's previews, lowest strength first. */
export type JobResult =
  | ({ readonly kind: 'stylize' } & EncodedImage)
  | { readonly kind: 'strength-row'; readonly previews: ReadonlyArray<EncodedImage & { readonly strength: number }> };

async function encodeImage(image: RgbImage): Promise<EncodedImage> {
  return { png: await encodePng(image), width: image.width, height: image.height };
}

/** What the engine made, as PNG (the helper's queue and the team's workers keep results so). */
export async function encodeResult(result: EngineJobResult): Promise<JobResult> {
  if (result.kind === 'stylize') return { kind: 'stylize', ...(await encodeImage(result.image)) };
  const previews = await Promise.all(result.previews.map(async ({ strength, image }) => ({ strength, ...(await encodeImage(image)) })));
  return { kind: 'strength-row', previews };
}

/** The size status reports: the image's, or each preview's of a strength row (they share one). */
export function resultSize(result: JobResult): { width: number; height: number } {
  const { width, height } = result.kind === 'stylize' ? result : result.previews[0]!;
  return { width, height };
}

/** A strength row's previews as the API answers them (GET /v1/jobs/:id/result): base64 PNGs, lowest strength first. */
export function strengthRowAnswer(result: Extract<JobResult, { kind: 'strength-row' }>): StrengthRowResult {
  const previews = result.previews.map(({ png, ...preview }) => ({ ...preview, png: png.toString('base64') }));
  return strengthRowResultSchema.parse({ previews });
}
