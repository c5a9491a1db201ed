import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { RgbImage } from '../helper/engine/index.js';
import { WEIGHTS_ENV_VAR } from '../helper/weights/locate.js';

/**
 * What a benchmark run needs besides the engine (helper/loadEngine.ts): real images and weights. They default to the workspace's ../shared folder beside the project (run from the project root or dist/).
 */
const projectRoot = findProjectRoot(dirname(fileURLToPath(import.meta.url)));
export const sharedDir = resolve(projectRoot, '..', 'shared');

function findProjectRoot(from: string): string {
  let dir = from;
  while (!existsSync(resolve(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return from;
    dir = parent;
  }
  return dir;
}

export function sharedImage(name: string): string {
  return resolve(sharedDir, 'images', name);
}

export function defaultWeightsPath(flag: string | undefined): string {
  const path = flag ?? process.env[WEIGHTS_ENV_VAR] ?? resolve(sharedDir, 'models', 'vgg19', 'vgg19-notop.h5');
  if (!existsSync(path)) throw new Error(`no VGG-19 weights at ${path}: pass --weights FILE or set ${WEIGHTS_ENV_VAR}`);
  return path;
}

/** An image file as RGB, its long side scaled to `longSide`; `square` crops the middle to longSide × longSide. */
export async function loadImage(path: string, longSide: number, square = false): Promise<RgbImage> {
  if (!existsSync(path)) throw new Error(`missing image ${path}`);
  const { data, info } = await sharp(path)
    .resize(longSide, longSide, { fit: square ? 'cover' : 'inside' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}
