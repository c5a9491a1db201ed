import { statSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';

import envPaths from 'env-paths';

import { downloadWeights, type DownloadWeightsOptions } from './download.js';
import { WeightsError } from './errors.js';

/** Where Keras itself downloads the VGG-19 "notop" weights from: Google's bucket, then the original release. */
export const OFFICIAL_WEIGHTS_URLS: readonly string[] = [
  'https://storage.googleapis.com/tensorflow/keras-applications/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5',
  'https://github.com/fchollet/deep-learning-models/releases/download/v0.1/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5',
];

/** The md5 Keras checks for that file. */
export const OFFICIAL_WEIGHTS_MD5 = '253f8cb515780f3b799900260a226db6';

export const WEIGHTS_FILE_NAME = 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5';

/** The environment variable naming a weights file, between --weights and the cache in precedence. */
export const WEIGHTS_ENV_VAR = 'GRAMSTYLE_WEIGHTS';

/** The per-user cache directory (e.g. ~/.cache/gramstyle, honouring XDG_CACHE_HOME; platform equivalents elsewhere). */
export function defaultCacheDir(): string {
  return envPaths('gramstyle', { suffix: '' }).cache;
}

export type WeightsSource = 'flag' | 'env' | 'cache' | 'download';

export interface WeightsLocation {
  /** Absolute path of the weights file (for 'download': where it will be downloaded to). */
  readonly path: string;
  readonly source: WeightsSource;
  /** Whether a regular file is there now. */
  readonly exists: boolean;
}

export interface LocateWeightsOptions {
  /** The --weights FILE argument, if given. */
  readonly flag?: string | undefined;
  /** Defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Defaults to defaultCacheDir() (which reads process.env, not `env`). */
  readonly cacheDir?: string | undefined;
}

/**
 * Decides which weights file to use, in order: --weights FILE, $GRAMSTYLE_WEIGHTS, the file in the cache
 * directory, else 'download' into the cache. An explicit path wins even if it does not exist (see ensureWeights).
 * Relative paths resolve against the current directory.
 */
export function locateWeights(options: LocateWeightsOptions = {}): WeightsLocation {
  const { flag, env = process.env, cacheDir = defaultCacheDir() } = options;
  const envPath = env[WEIGHTS_ENV_VAR];
  // Empty values count as unset: `GRAMSTYLE_WEIGHTS= gramstyle …` is a common way to clear a variable.
  if (flag) return at(resolve(flag), 'flag');
  if (envPath) return at(resolve(envPath), 'env');
  const cached = at(resolve(cacheDir, WEIGHTS_FILE_NAME), 'cache');
  return cached.exists ? cached : { ...cached, source: 'download' };
}

export interface EnsureWeightsOptions extends LocateWeightsOptions {
  readonly urls?: readonly string[];
  readonly md5?: string;
  readonly onProgress?: DownloadWeightsOptions['onProgress'];
  readonly signal?: AbortSignal;
}

/**
 * Returns the path of an existing weights file, downloading the official one into the cache if no file is given
 * or cached. A --weights or $GRAMSTYLE_WEIGHTS path that does not exist is an error ('missing'), never a reason
 * to silently use another file. Does not validate the contents: readVggWeightsFile does.
 */
export async function ensureWeights(options: EnsureWeightsOptions = {}): Promise<string> {
  const { urls = OFFICIAL_WEIGHTS_URLS, md5 = OFFICIAL_WEIGHTS_MD5, onProgress, signal } = options;
  const location = locateWeights(options);
  if (location.exists) return location.path;

  if (location.source === 'flag' || location.source === 'env') {
    const origin = location.source === 'flag' ? '--weights' : `$${WEIGHTS_ENV_VAR}`;
    const dropIt = location.source === 'flag' ? 'leave out --weights' : `unset ${WEIGHTS_ENV_VAR}`;
    const problem = pathExists(location.path) ? 'is not a regular file' : 'does not exist';
    throw new WeightsError(
      'missing',
      `${location.path} (given by ${origin}) ${problem}. Fix the path, or ${dropIt} ` +
        'to use the weights Gramstyle downloads (`gramstyle doctor`).',
    );
  }
  await downloadWeights({ urls, md5, destination: location.path, onProgress, signal });
  return location.path;
}

function at(path: string, source: WeightsSource): WeightsLocation {
  return { path, source, exists: statOrUndefined(path)?.isFile() ?? false };
}

function pathExists(path: string): boolean {
  return statOrUndefined(path) !== undefined;
}

/** Unreadable counts as absent here; reading the file later reports the real reason. */
function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}
