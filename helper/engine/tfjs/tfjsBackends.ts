import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

/** TensorFlow.js's backends that can run the engine, and whose tensors the engine's loop always uses. */
export type TfjsBackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

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

const LOADERS: Record<TfjsBackendName, Loader> = {
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
 * Makes a backend TensorFlow.js's current one and returns its device description ("CPU (WebAssembly SIMD, 2
 * threads)"); throws, with the loader's reason, when it cannot run here.
 */
export async function activateTfjsBackend(name: TfjsBackendName): Promise<string> {
  return LOADERS[name].load();
}

