import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

/** Backends in order of preference: `auto` takes the first that loads. */
export const BACKEND_NAMES = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendChoice = 'auto' | BackendName;

export interface BackendSelection {
  readonly name: BackendName;
  /** What runs the math, for people: "CUDA GPU", "WebAssembly (SIMD, 1 thread)", … */
  readonly device: string;
  /** Better backends that were tried first, each with the loader's own error. */
  readonly skipped: ReadonlyArray<{ readonly name: BackendName; readonly reason: string }>;
}

export function isBackendChoice(value: string): value is BackendChoice {
  return value === 'auto' || (BACKEND_NAMES as readonly string[]).includes(value);
}

interface Loader {
  /** Makes the backend current and returns its device description; throws when it cannot run here. */
  load(): Promise<string>;
}

/**
 * Imports one of the native TensorFlow packages. They are optionalDependencies whose install script downloads
 * libtensorflow; where that failed (or scripts were not run) the package is absent or lacks its binding. That is
 * checked first: importing such a package half-registers its kernels and then throws something obscure.
 * The name is held in a variable so that TypeScript does not require the package to be installed.
 */
async function importNativeTensorflow(packageName: string): Promise<void> {
  let packageJson: string;
  try {
    packageJson = createRequire(import.meta.url).resolve(`${packageName}/package.json`);
  } catch {
    throw new Error(`${packageName} is not installed (it is optional: npm skips it where its install script fails)`);
  }
  const libDir = join(dirname(packageJson), 'lib');
  const hasBinding =
    existsSync(libDir) &&
    readdirSync(libDir).some((entry) => existsSync(join(libDir, entry, 'tfjs_binding.node')));
  if (!hasBinding) {
    throw new Error(
      `${packageName} is installed without its native TensorFlow library (its install script did not run or ` +
        `failed); \`npm rebuild ${packageName}\` downloads it`,
    );
  }
  await import(packageName);
}

const LOADERS: Record<BackendName, Loader> = {
  'tensorflow-gpu': {
    async load() {
      await importNativeTensorflow('@tensorflow/tfjs-node-gpu');
      await activate('tensorflow');
      // tfjs-node-gpu quietly runs on the CPU when CUDA or cuDNN cannot be loaded.
      const usesGpu = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
      if (!usesGpu) throw new Error('TensorFlow loaded but found no usable CUDA GPU (check the driver, CUDA and cuDNN)');
      return 'CUDA GPU (TensorFlow)';
    },
  },
  tensorflow: {
    async load() {
      await importNativeTensorflow('@tensorflow/tfjs-node');
      await activate('tensorflow');
      return 'CPU (TensorFlow native)';
    },
  },
  wasm: {
    async load() {
      await import('@tensorflow/tfjs-backend-wasm');
      const { useThreadedWasm, wasmThreadingOutcome } = await import('./wasmThreads.js');
      useThreadedWasm();
      await activate('wasm');
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      const { threads, fallbackReason } = wasmThreadingOutcome()!;
      const threading = `${threads} thread${threads === 1 ? '' : 's'}`;
      const note = fallbackReason ? `; threads unavailable: ${fallbackReason}` : '';
      return `CPU (WebAssembly${simd ? ' SIMD' : ''}, ${threading}${note})`;
    },
  },
  cpu: {
    async load() {
      await import('@tensorflow/tfjs-backend-cpu');
      await activate('cpu');
      return 'CPU (plain JavaScript)';
    },
  },
};

async function activate(tfBackendName: string): Promise<void> {
  if (!(await tf.setBackend(tfBackendName))) {
    throw new Error(`TensorFlow.js could not initialise its "${tfBackendName}" backend`);
  }
  await tf.ready();
}

/**
 * Makes the chosen backend TensorFlow.js's current one. `auto` tries them best first and reports why each better
 * one was skipped; a named backend that cannot load is an error.
 */
export async function selectBackend(choice: BackendChoice = 'auto'): Promise<BackendSelection> {
  const candidates = choice === 'auto' ? BACKEND_NAMES : [choice];
  const skipped: Array<{ name: BackendName; reason: string }> = [];
  for (const name of candidates) {
    try {
      const device = await LOADERS[name].load();
      return { name, device, skipped };
    } catch (error) {
      skipped.push({ name, reason: firstLine(error) });
    }
  }
  const reasons = skipped.map(({ name, reason }) => `${name}: ${reason}`).join('; ');
  throw new Error(`no TensorFlow.js backend could be loaded (${reasons})`);
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.trim();
}
