/**
 * Errors about the VGG-19 weights file: finding, downloading and reading it.
 * Each carries a machine-readable `code` (for the CLI/daemon to branch on) and a message meant for the user:
 * it names the file, says what is wrong and how to fix it.
 */
export type WeightsErrorCode =
  /** The file does not exist (or a --weights / GRAMSTYLE_WEIGHTS path points nowhere). */
  | 'missing'
  /** The file exists but cannot be read (permissions, a directory, …). */
  | 'unreadable'
  /** No HDF5 signature: not an HDF5 file at all. */
  | 'not-hdf5'
  /** An HDF5 file cut short, typically an interrupted copy or download. */
  | 'truncated'
  /** The HDF5 library found damaged internals it cannot read. */
  | 'corrupt'
  /** A readable HDF5 file that is not the Keras VGG-19 "notop" layout (missing layers, wrong shapes, …). */
  | 'wrong-layout'
  /** The right layout, but NaN or infinite values. */
  | 'bad-values'
  /** Every download URL failed. */
  | 'download-failed'
  /** A download completed but its md5 is not the expected one. */
  | 'checksum-mismatch';

export class WeightsError extends Error {
  override readonly name = 'WeightsError';

  constructor(
    readonly code: WeightsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The fix for a file that is damaged or not the weights at all. */
export const REPLACE_FILE_HINT =
  'Delete it and run `gramstyle doctor` to download the weights again, or pass --weights FILE.';

/** The fix for a download that failed. */
export const RETRY_DOWNLOAD_HINT =
  'Check your internet connection (or proxy) and run `gramstyle doctor` again, ' +
  'or download the file yourself and pass it with --weights FILE (or GRAMSTYLE_WEIGHTS=FILE).';
