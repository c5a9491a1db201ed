import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

import { RETRY_DOWNLOAD_HINT, WeightsError } from './errors.js';

export interface DownloadWeightsOptions {
  /** Tried in order; the first that delivers the file with the right md5 wins. */
  readonly urls: readonly string[];
  /** Expected md5 of the file, hex. */
  readonly md5: string;
  /** Final path. It only ever appears complete and verified (atomic rename). */
  readonly destination: string;
  /** Called after each chunk with the bytes received so far from the current URL (it restarts at 0 for the next URL). */
  readonly onProgress?: (receivedBytes: number, totalBytes: number | undefined) => void;
  /** Aborting stops at once (no further URLs) and rejects with the abort reason. */
  readonly signal?: AbortSignal;
}

/**
 * Downloads a file to `destination`, trying each URL in turn. Bytes stream into a temporary file next to the
 * destination (same directory, so the final rename is atomic) while their md5 is computed; only a complete file
 * with the expected md5 is fsynced and renamed into place. Whatever fails, the temporary file is removed.
 *
 * Throws WeightsError 'checksum-mismatch' if some URL delivered a file with another md5 and none delivered the
 * right one, else 'download-failed' listing each URL's failure.
 */
export async function downloadWeights(options: DownloadWeightsOptions): Promise<void> {
  const { urls, destination, signal } = options;
  await mkdir(dirname(destination), { recursive: true });

  const failures: Failure[] = [];
  for (const url of urls) {
    try {
      await downloadOnce(url, options);
      return;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      failures.push(error instanceof Failure ? error : new Failure(url, describe(error)));
    }
  }
  throw failedError(destination, options.md5, failures);
}

/** Why one URL failed; internal to this module, turned into a WeightsError once every URL has failed. */
class Failure extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
    readonly actualMd5?: string,
  ) {
    super(`${url}: ${reason}`);
  }
}

async function downloadOnce(url: string, options: DownloadWeightsOptions): Promise<void> {
  const { destination, onProgress, signal } = options;
  // Ask for the raw bytes, so Content-Length counts what we receive.
  const response = await fetch(url, { signal, headers: { 'accept-encoding': 'identity' } });
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new Failure(url, `HTTP ${response.status} ${response.statusText}`.trim());
  }
  const totalBytes = contentLength(response);

  const partial = `${destination}.${randomBytes(6).toString('hex')}.partial`;
  let handle: FileHandle | undefined = await open(partial, 'wx').catch(async (error: unknown) => {
    await response.body?.cancel();
    throw error;
  });
  try {
    const hash = createHash('md5');
    let receivedBytes = 0;
    const reader = response.body.getReader();
    try {
      for (;;) {
        const chunk = await reader.read().catch((error: unknown) => {
          if (signal?.aborted) throw error;
          throw new Failure(url, `connection lost after ${receivedBytes} of ${totalBytes ?? '?'} bytes (${describe(error)})`);
        });
        if (chunk.done) break;
        hash.update(chunk.value);
        await handle.write(chunk.value);
        receivedBytes += chunk.value.byteLength;
        onProgress?.(receivedBytes, totalBytes);
      }
    } finally {
      // Releases the connection if we stopped early (a write failed, onProgress threw); a no-op after the end.
      await reader.cancel().catch(() => {});
    }
    if (totalBytes !== undefined && receivedBytes !== totalBytes) {
      throw new Failure(url, `received ${receivedBytes} bytes, but the server announced ${totalBytes}`);
    }
    const actualMd5 = hash.digest('hex');
    if (actualMd5 !== options.md5.toLowerCase()) {
      throw new Failure(url, `md5 ${actualMd5}, expected ${options.md5}`, actualMd5);
    }

    // Data on disk before the name points at it: a crash never leaves a complete-looking but empty file.
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(partial, destination);
    await syncDirectory(dirname(destination));
  } finally {
    await handle?.close().catch(() => {});
    // After a successful rename this is a no-op (force: the name is gone).
    await rm(partial, { force: true });
  }
}

function contentLength(response: Response): number | undefined {
  const encoding = response.headers.get('content-encoding');
  // A compressed body's Content-Length is not what fetch hands us after decoding.
  if (encoding !== null && encoding !== 'identity') return undefined;
  const header = response.headers.get('content-length');
  const length = header === null ? NaN : Number(header);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

/** Makes the rename itself durable. Best effort: some platforms (Windows) cannot open a directory. */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Durability of the rename is a nicety; the file itself is complete and synced.
  }
}

function failedError(destination: string, md5: string, failures: readonly Failure[]): WeightsError {
  const lines = failures.map((failure) => `  - ${failure.url}: ${failure.reason}`).join('\n');
  const mismatch = failures.find((failure) => failure.actualMd5 !== undefined);
  if (mismatch) {
    return new WeightsError(
      'checksum-mismatch',
      `Downloading the VGG-19 weights to ${destination} failed: the file's md5 is ${mismatch.actualMd5}, ` +
        `expected ${md5} (a proxy or mirror may have altered it):\n${lines}\n${RETRY_DOWNLOAD_HINT}`,
    );
  }
  const tried = failures.length === 0 ? '  (no URLs to try)' : lines;
  return new WeightsError(
    'download-failed',
    `Downloading the VGG-19 weights to ${destination} failed:\n${tried}\n${RETRY_DOWNLOAD_HINT}`,
  );
}

/** fetch wraps network errors as "TypeError: fetch failed" with the useful part in `cause`. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
