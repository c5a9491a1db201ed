import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import {
  Vgg19Features,
  preferredGradientPath,
  selectBackend,
  type BackendChoice,
  type BackendSelection,
  type RgbImage,
} from '../helper/engine/index.js';
import { WEIGHTS_ENV_VAR } from '../helper/weights/locate.js';
import { readVggWeightsFile } from '../helper/weights/vggH5.js';

/**
 * What a benchmark run needs: a backend, the network with that backend's fast paths, and real images. The images
 * and weights default to the workspace's ../shared folder beside the project (run from the project root or dist/).
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

export async function loadNetwork(
  backend: BackendChoice,
  weightsPath: string,
): Promise<{ selection: BackendSelection; network: Vgg19Features }> {
  const selection = await selectBackend(backend);
  const network = new Vgg19Features(await readVggWeightsFile(weightsPath), preferredGradientPath(selection.name));
  return { selection, network };
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
