import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import sharp from 'sharp';
import type { RgbImage } from '../../helper/engine/index.js';
import { projectRoot } from './projectRoot.js';

/**
 * The workspace's real VGG-19 weights and photos live in ../shared beside the project (never committed). Tests that
 * need them fail, naming the path, when they are missing: a skipped behaviour test would hide a broken engine.
 */
export const sharedDir = resolve(projectRoot, '..', 'shared');

function requireSharedFile(relativePath: string): string {
  const path = resolve(sharedDir, relativePath);
  if (!existsSync(path)) {
    throw new Error(`missing ${path}: this test needs the workspace's shared assets beside the project (../shared)`);
  }
  return path;
}

export const realWeightsPath = (): string => requireSharedFile('models/vgg19/vgg19-notop.h5');
export const sharedImagePath = (name: string): string => requireSharedFile(`images/${name}`);

/** A shared photo or painting scaled so that its long side is `longSide`, as raw RGB. */
export async function loadSharedImage(name: string, longSide: number): Promise<RgbImage> {
  const { data, info } = await sharp(sharedImagePath(name))
    .resize(longSide, longSide, { fit: 'inside' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}
