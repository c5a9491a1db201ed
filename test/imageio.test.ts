import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RgbImage } from '../helper/engine/index.js';
import {
  decodeImage,
  encodePng,
  ImageInputError,
  outputSize,
  prepareStylizeImages,
  resizeToLongSide,
} from '../helper/imageio/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gramstyle-imageio-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A width × height image whose pixel (x, y) is (x, y, 100): every pixel is distinct and easy to predict. */
function rampImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([x, y, 100], (y * width + x) * 3);
  }
  return { width, height, data };
}

function rawSharp(image: RgbImage, channels: 3 | 4 = 3) {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels } });
}

async function expectImageInputError(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ImageInputError);
  if (typeof message === 'string') expect((error as Error).message).toBe(message);
  else expect((error as Error).message).toMatch(message);
}

describe('decodeImage', () => {
  it('decodes a PNG exactly, from bytes and from a file', async () => {
    const ramp = rampImage(30, 20);
    const png = await rawSharp(ramp).png().toBuffer();
    const path = join(dir, 'ramp.png');
    await writeFile(path, png);

    for (const input of [png, path]) {
      const decoded = await decodeImage(input, 'content image');
      expect([decoded.width, decoded.height]).toEqual([30, 20]);
      expect(decoded.data).toBeInstanceOf(Uint8Array);
      expect(Array.from(decoded.data)).toEqual(Array.from(ramp.data));
    }
  });

  it('decodes a lossless WebP exactly and a JPEG closely', async () => {
    const ramp = rampImage(40, 24);
    const webp = await decodeImage(await rawSharp(ramp).webp({ lossless: true }).toBuffer(), 'style image');
    expect(Array.from(webp.data)).toEqual(Array.from(ramp.data));

    const orange = Buffer.alloc(40 * 24 * 3);
    for (let i = 0; i < 40 * 24; i++) orange.set([200, 60, 30], i * 3);
    const jpegBytes = await rawSharp({ width: 40, height: 24, data: orange }).jpeg({ quality: 95 }).toBuffer();
    const jpeg = await decodeImage(jpegBytes, 'style image');
    expect([jpeg.width, jpeg.height]).toEqual([40, 24]);
    const [r, g, b] = [jpeg.data[0]!, jpeg.data[1]!, jpeg.data[2]!];
    expect(Math.abs(r - 200) + Math.abs(g - 60) + Math.abs(b - 30)).toBeLessThan(12);
  });

  it('flattens transparency onto white', async () => {
    // Pixel 0 fully transparent black, pixel 1 half-transparent red, pixel 2 opaque blue.
    const rgba = Buffer.from([0, 0, 0, 0, 255, 0, 0, 128, 0, 0, 255, 255]);
    const png = await sharp(rgba, { raw: { width: 3, height: 1, channels: 4 } }).png().toBuffer();
    const decoded = await decodeImage(png, 'content image');
    expect(decoded.data.length).toBe(9);
    expect(Array.from(decoded.data.subarray(0, 3))).toEqual([255, 255, 255]);
    const halfRed = Array.from(decoded.data.subarray(3, 6));
    expect(halfRed[0]).toBe(255);
    expect(Math.abs(halfRed[1]! - 127)).toBeLessThanOrEqual(1);
    expect(Math.abs(halfRed[2]! - 127)).toBeLessThanOrEqual(1);
    expect(Array.from(decoded.data.subarray(6, 9))).toEqual([0, 0, 255]);
  });

  it('turns a photo upright by its EXIF orientation', async () => {
    // Orientation 6: the camera was turned by 90°, so the stored 40 × 20 pixels show a 20 × 40 picture.
    const jpeg = await rawSharp(rampImage(40, 20)).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const decoded = await decodeImage(jpeg, 'content image');
    expect([decoded.width, decoded.height]).toEqual([20, 40]);
  });

  it('refuses a text file, naming the label and path', async () => {
    const path = join(dir, 'notes.txt');
    await writeFile(path, 'this is not an image\n');
    await expectImageInputError(
      decodeImage(path, 'content image'),
      `content image ${path}: not a PNG, JPEG or WebP image`,
    );
  });

  it('refuses GIF and TIFF images, saying which format they are', async () => {
    const pixels = rawSharp(rampImage(8, 8));
    await expectImageInputError(
      decodeImage(await pixels.clone().gif().toBuffer(), 'style image'),
      'style image: not a PNG, JPEG or WebP image (it is GIF)',
    );
    await expectImageInputError(
      decodeImage(await pixels.clone().tiff().toBuffer(), 'style image'),
      'style image: not a PNG, JPEG or WebP image (it is TIFF)',
    );
  });

  it('reports a truncated PNG as corrupt image data', async () => {
    const png = await rawSharp(rampImage(64, 64)).png({ compressionLevel: 0 }).toBuffer();
    const path = join(dir, 'truncated.png');
    await writeFile(path, png.subarray(0, Math.floor(png.length / 2)));
    await expectImageInputError(
      decodeImage(path, 'content image'),
      new RegExp(`^content image ${path}: corrupt image data \\(.+\\)$`),
    );
  });

  it('reports a missing file, a directory and an empty file', async () => {
    const missing = join(dir, 'nowhere.png');
    await expectImageInputError(decodeImage(missing, 'style image'), `style image ${missing}: file not found`);
    await expectImageInputError(
      decodeImage(dir, 'style image'),
      `style image ${dir}: is a directory, not an image file`,
    );
    const empty = join(dir, 'empty.png');
    await writeFile(empty, '');
    await expectImageInputError(decodeImage(empty, 'style image'), `style image ${empty}: empty (0 bytes)`);
  });

  it('refuses an image above the pixel limit from its header, before decoding it', async () => {
    // A real 1 × 1 PNG whose header claims 20000 × 20000 pixels (400 megapixels).
    const png = Buffer.from(await rawSharp(rampImage(1, 1)).png().toBuffer());
    png.writeUInt32BE(20_000, 16);
    png.writeUInt32BE(20_000, 20);
    png.writeUInt32BE(crc32(png.subarray(12, 29)), 29); // the IHDR chunk's CRC covers its type and data
    await expectImageInputError(
      decodeImage(png, 'content image'),
      /^content image: too large \(20000×20000 pixels; at most \d+ megapixels\)$/,
    );
  });

  it('refuses an image longer than a given long side from its header', async () => {
    const png = await rawSharp(rampImage(90, 60)).png().toBuffer();
    await expectImageInputError(
      decodeImage(png, 'style image', { maxLongSide: 64 }),
      'style image: too large (90×60); the long side may be at most 64 pixels',
    );
    expect((await decodeImage(png, 'style image', { maxLongSide: 90 })).width).toBe(90);
  });
});

describe('outputSize', () => {
  it('gives the long side the requested length and keeps the aspect ratio', () => {
    expect(outputSize(300, 200, 150)).toEqual({ width: 150, height: 100 });
    expect(outputSize(200, 300, 150)).toEqual({ width: 100, height: 150 });
    expect(outputSize(640, 480, 512)).toEqual({ width: 512, height: 384 });
    expect(outputSize(100, 100, 37)).toEqual({ width: 37, height: 37 });
    expect(outputSize(1001, 333, 100)).toEqual({ width: 100, height: 33 });
  });

  it('keeps every side at least 1 pixel', () => {
    expect(outputSize(5000, 1, 16)).toEqual({ width: 16, height: 1 });
    expect(outputSize(1, 5000, 16)).toEqual({ width: 1, height: 16 });
  });
});

describe('resizing and encoding', () => {
  it('resizeToLongSide scales down and up, keeping the aspect ratio', async () => {
    const ramp = rampImage(90, 60);
    const smaller = await resizeToLongSide(ramp, 45);
    expect([smaller.width, smaller.height, smaller.data.length]).toEqual([45, 30, 45 * 30 * 3]);
    const larger = await resizeToLongSide(ramp, 120);
    expect([larger.width, larger.height]).toEqual([120, 80]);
    // A smooth ramp stays a ramp: the red channel grows left to right.
    const firstRow = Array.from({ length: 120 }, (_, x) => larger.data[x * 3]!);
    expect(firstRow[119]! - firstRow[0]!).toBeGreaterThan(80);
  });

  it('encodePng writes a PNG that decodes to the same pixels', async () => {
    const ramp = rampImage(17, 9);
    const png = await encodePng(ramp);
    expect((await sharp(png).metadata()).format).toBe('png');
    expect(Array.from((await decodeImage(png, 'result')).data)).toEqual(Array.from(ramp.data));
  });

  it('prepareStylizeImages brings content and style to the job size', async () => {
    const content = join(dir, 'content.png');
    const style = join(dir, 'style.webp');
    await rawSharp(rampImage(300, 200)).png().toFile(content);
    await rawSharp(rampImage(100, 250)).webp().toFile(style);
    const images = await prepareStylizeImages(content, [await readFile(style)], { size: 96, styleScale: 1 });
    expect([images.content.width, images.content.height]).toEqual([96, 64]);
    expect(images.styles.map((image) => [image.width, image.height])).toEqual([[38, 96]]);
  });

  it('prepareStylizeImages reports the content image first when both are bad', async () => {
    const missing = join(dir, 'missing.png');
    await expectImageInputError(
      prepareStylizeImages(missing, [Buffer.from('nope')], { size: 64, styleScale: 1 }),
      `content image ${missing}: file not found`,
    );
    const content = join(dir, 'ok.png');
    await rawSharp(rampImage(20, 10)).png().toFile(content);
    await expectImageInputError(
      prepareStylizeImages(content, [Buffer.from('nope')], { size: 64, styleScale: 1 }),
      'style image: not a PNG, JPEG or WebP image',
    );
  });
});
