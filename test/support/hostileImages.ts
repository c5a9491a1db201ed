import { promisify } from 'node:util';
import { crc32, deflate, deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** PNG files built by hand, to say what a real decoder should never be made to do. */

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

/** An 8-bit RGB PNG whose header says width × height and whose pixel data inflates from `compressedPixels`. */
function rgbPng(width: number, height: number, compressedPixels: Buffer): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', compressedPixels),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A few hundred bytes whose header declares width × height pixels: a decompression bomb if anyone decoded it. */
export function pngDeclaringSize(width: number, height: number): Buffer {
  return rgbPng(width, height, deflateSync(Buffer.alloc(1024)));
}

/** A 16 × 16 PNG whose pixel data inflates to `inflatedBytes` (far more than 16 × 16 pixels need). */
export async function pngInflatingTo(inflatedBytes: number): Promise<Buffer> {
  // Deflated off the event loop: in a test, the helper shares it, and seconds of deflateSync on a busy machine kept
  // both from closing an idle keep-alive socket in time, so the next request went out on one being reset.
  return rgbPng(16, 16, await promisify(deflate)(Buffer.alloc(inflatedBytes)));
}

/** A real, valid side × side PNG of one colour: small to send, side² × 3 bytes once decoded. */
export function solidPng(side: number, colour = '#336699'): Promise<Buffer> {
  return sharp({ create: { width: side, height: side, channels: 3, background: colour } }).png().toBuffer();
}

/** The first bytes of a real PNG: its header (and so its size) reads fine, its pixels are cut off. */
export function cutAfterHeader(png: Buffer): Buffer {
  return png.subarray(0, 100);
}
