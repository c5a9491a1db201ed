import { open } from 'node:fs/promises';

import { REPLACE_FILE_HINT, WeightsError } from './errors.js';

/**
 * Checks an HDF5 file's signature and superblock before handing it to the HDF5 library, which only reports
 * "unable to open file" for a missing, foreign or truncated file alike. Here each of those gets its own
 * WeightsError; a file that passes has a valid signature and is at least as long as its superblock says.
 */
export async function checkHdf5Header(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw openError(path, error);
  }
  try {
    const stats = await handle.stat();
    const size = stats.size;
    if (!stats.isFile()) {
      throw new WeightsError('unreadable', `${path}: not a regular file. Pass the weights file itself with --weights FILE.`);
    }
    const read = async (position: number, length: number): Promise<Buffer> => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      return buffer.subarray(0, bytesRead);
    };

    const start = await findSignature(size, read);
    if (start === undefined) {
      const head = await read(0, SIGNATURE.length);
      // An empty file or a prefix of the signature is what an interrupted copy leaves behind.
      if (SIGNATURE.subarray(0, head.length).equals(head)) {
        throw new WeightsError('truncated', `${path}: truncated (only ${size} bytes). ${REPLACE_FILE_HINT}`);
      }
      throw new WeightsError('not-hdf5', `${path}: not an HDF5 file (bad signature). ${REPLACE_FILE_HINT}`);
    }

    const superblock = await read(start, 96);
    const end = endOfFileAddress(superblock);
    if (end === 'cut') {
      throw new WeightsError('truncated', `${path}: truncated inside the HDF5 superblock (${size} bytes). ${REPLACE_FILE_HINT}`);
    }
    if (end === 'unknown-version') {
      throw new WeightsError('corrupt', `${path}: unsupported or damaged HDF5 superblock. ${REPLACE_FILE_HINT}`);
    }
    if (end !== undefined && end > size) {
      throw new WeightsError(
        'truncated',
        `${path}: truncated: the file has ${size} bytes but its HDF5 header says ${end}. ${REPLACE_FILE_HINT}`,
      );
    }
  } finally {
    await handle.close();
  }
}

/** `\x89HDF\r\n\x1a\n` */
const SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The superblock sits at 0 or, after a user block, at 512, 1024, 2048, … (HDF5 spec, "Format Signature"). */
async function findSignature(
  size: number,
  read: (position: number, length: number) => Promise<Buffer>,
): Promise<number | undefined> {
  for (let offset = 0; offset + SIGNATURE.length <= size; offset = offset === 0 ? 512 : offset * 2) {
    if ((await read(offset, SIGNATURE.length)).equals(SIGNATURE)) return offset;
  }
  return undefined;
}

/**
 * The absolute end-of-file address the superblock records (base address + EOF address), undefined if the file
 * leaves it undefined, 'cut' if the buffer ends inside the superblock.
 */
function endOfFileAddress(superblock: Buffer): number | 'cut' | 'unknown-version' | undefined {
  const version = superblock[8];
  if (version === undefined) return 'cut';
  // Field offsets from the HDF5 file format spec, section II.A "Disk Format: Level 0A - Format Signature and Superblock".
  let sizeOfOffsets: number | undefined;
  let baseAddressAt: number;
  if (version === 0 || version === 1) {
    sizeOfOffsets = superblock[13];
    baseAddressAt = version === 0 ? 24 : 28;
  } else if (version === 2 || version === 3) {
    sizeOfOffsets = superblock[9];
    baseAddressAt = 12;
  } else {
    return 'unknown-version';
  }
  if (sizeOfOffsets === undefined) return 'cut';
  if (sizeOfOffsets !== 2 && sizeOfOffsets !== 4 && sizeOfOffsets !== 8) return 'unknown-version';
  // base address, then (free-space info | superblock extension) address, then the end-of-file address.
  const eofAt = baseAddressAt + 2 * sizeOfOffsets;
  if (superblock.length < eofAt + sizeOfOffsets) return 'cut';
  const base = readAddress(superblock, baseAddressAt, sizeOfOffsets);
  const eof = readAddress(superblock, eofAt, sizeOfOffsets);
  if (base === undefined || eof === undefined) return undefined;
  return base + eof;
}

/** A little-endian unsigned address; undefined for HDF5's "undefined address" (all bits set). */
function readAddress(buffer: Buffer, at: number, size: number): number | undefined {
  const value = size === 8 ? buffer.readBigUInt64LE(at) : BigInt(buffer.readUIntLE(at, size));
  if (value === (1n << BigInt(8 * size)) - 1n) return undefined;
  return Number(value);
}

function openError(path: string, error: unknown): WeightsError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    return new WeightsError(
      'missing',
      `${path}: no such file. Run \`gramstyle doctor\` to download the weights, or pass --weights FILE.`,
      { cause: error },
    );
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new WeightsError('unreadable', `${path}: cannot be read (${reason}). Check its permissions, or pass --weights FILE.`, {
    cause: error,
  });
}
