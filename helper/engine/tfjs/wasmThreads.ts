import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfWasm from '@tensorflow/tfjs-backend-wasm';

/**
 * Multi-threaded WebAssembly for Node.
 *
 * tfjs-backend-wasm ships a threaded SIMD build but never uses it in Node: its loader hands Emscripten a Blob URL for
 * the pthread worker script, which Node's Worker refuses (tensorflow/tfjs#3830), so it reports "no thread support"
 * and runs XNNPACK on one thread. The package also publishes the plain Emscripten files of that build in
 * `wasm-out/`; this loader starts them with the worker script written to a real file, and registers the result as
 * the `wasm` backend. Everything else (kernels, memory management) is the package's own `BackendWasm`.
 *
 * XNNPACK's thread pool is capped inside the module at half of `emscripten_num_logical_cores()` (it assumes two
 * hardware threads per core). Node reports cores, not SMT siblings, so the import is answered with twice the
 * requested count.
 *
 * The wiring below (the `tfjs` wrappers around the module's C functions) mirrors tfjs-backend-wasm 4.22.0's own
 * `init()`; package.json pins that version exactly.
 */

const THREADED_BUILD = 'tfjs-backend-wasm-threaded-simd';
const require = createRequire(import.meta.url);
/** Same as tfjs-backend-wasm's own registration. */
const WASM_BACKEND_PRIORITY = 2;

interface EmscriptenModule {
  asm: { malloc(bytes: number): number };
  _malloc(bytes: number): number;
  PThread: { runningWorkers: Array<{ unref(): void }>; unusedWorkers: Array<{ unref(): void }> };
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => number;
  tfjs?: Record<string, (...args: number[]) => number>;
}
type EmscriptenFactory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

export interface WasmThreadingOutcome {
  /** Threads XNNPACK runs on (the calling thread included). */
  readonly threads: number;
  /** Why the threaded build was not used, when it was not. */
  readonly fallbackReason?: string;
}

let registered = false;
let outcome: WasmThreadingOutcome | undefined;

/** Threads and fallback of the wasm backend, once it has been initialised by `useThreadedWasm`'s factory. */
export function wasmThreadingOutcome(): WasmThreadingOutcome | undefined {
  return outcome;
}

/**
 * Makes `tf.setBackend('wasm')` start the threaded build with `threads` threads (default: every core). If it cannot
 * start (no SharedArrayBuffer, a missing file), the package's stock single-threaded loader runs instead and the
 * reason is kept for `wasmThreadingOutcome`. Call before the wasm backend is first initialised; later calls do
 * nothing.
 */
export function useThreadedWasm(threads: number = availableParallelism()): void {
  if (registered) return;
  registered = true;
  const stockFactory = tf.findBackendFactory('wasm');
  if (!stockFactory) throw new Error('@tensorflow/tfjs-backend-wasm must be imported before useThreadedWasm');
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      let backend: tf.KernelBackend | undefined;
      let fallbackReason: string | undefined;
      if (threads > 1) {
        try {
          backend = await startThreadedBackend(threads);
        } catch (error) {
          fallbackReason = error instanceof Error ? error.message : String(error);
        }
      }
      backend ??= await stockFactory();
      failAllocationsLoudly((backend as unknown as { wasm: EmscriptenModule }).wasm);
      outcome = { threads: tfWasm.getThreadsCount(), ...(fallbackReason ? { fallbackReason } : {}) };
      return backend;
    },
    WASM_BACKEND_PRIORITY,
  );
}

/**
 * Allocations the heap cannot hold (WebAssembly memory ends at 4 GiB) do not fail cleanly: the module's malloc
 * returns 0, or for requests near 4 GiB a small bogus address (its size arithmetic wraps), and BackendWasm writes the
 * tensor there regardless, over the module's own data. The single-threaded build then traps somewhere later; the
 * threaded one can spin forever on a lock it overwrote. Checking each request turns both into an error that names
 * the cause, thrown from the op that asked (the engine host then replaces the engine). No tensor of a job that
 * passes the engine's memory check comes near 2 GiB.
 */
const LARGEST_ALLOCATION_BYTES = 2 ** 31;

function failAllocationsLoudly(wasmModule: EmscriptenModule): void {
  const malloc = wasmModule.asm.malloc;
  const checkedMalloc = (bytes: number): number => {
    const address = bytes < LARGEST_ALLOCATION_BYTES ? malloc(bytes) >>> 0 : 0;
    if (address === 0 && bytes > 0) {
      throw new Error(
        `out of memory: the WebAssembly heap (at most 4 GiB) cannot hold ${(bytes / 2 ** 20).toFixed(0)} MB more`,
      );
    }
    return address;
  };
  // The module's own `_malloc` is a stub that, the first time anything calls it, writes the raw export over the
  // property; the setter keeps the checked one in place.
  Object.defineProperty(wasmModule, '_malloc', { get: () => checkedMalloc, set: () => {}, configurable: true });
}

async function startThreadedBackend(threads: number): Promise<tf.KernelBackend> {
  const wasmOut = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out');
  const mainScript = join(wasmOut, `${THREADED_BUILD}.js`);
  const factory = require(mainScript) as EmscriptenFactory;
  const compiled = await WebAssembly.compile(readFileSync(join(wasmOut, `${THREADED_BUILD}.wasm`)));
  const workerScript = pthreadWorkerScript(wasmOut);

  const wasmModule = await factory({
    locateFile: (file: string) => (file.endsWith('.worker.js') ? workerScript : join(wasmOut, file)),
    // Each pthread worker evaluates this file to get the module factory.
    mainScriptUrlOrBlob: mainScript,
    // Emscripten's hook for instantiating the module itself; used to answer one import. A throw here rejects the
    // factory's promise.
    instantiateWasm(
      imports: { env: Record<string, unknown> },
      receiveInstance: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
    ) {
      imports.env['emscripten_num_logical_cores'] = () => 2 * threads;
      const instance = new WebAssembly.Instance(compiled, imports as WebAssembly.Imports);
      receiveInstance(instance, compiled);
      return instance.exports;
    },
  });
  wasmModule.tfjs = {
    init: wasmModule.cwrap('init', null, []),
    initWithThreadsCount: wasmModule.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: wasmModule.cwrap('get_threads_count', 'number', []),
    registerTensor: wasmModule.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: wasmModule.cwrap('dispose_data', null, ['number']),
    dispose: wasmModule.cwrap('dispose', null, []),
  };
  tfWasm.setThreadsCount(threads);
  const backend = new tfWasm.BackendWasm(wasmModule as unknown as ConstructorParameters<typeof tfWasm.BackendWasm>[0]);
  // XNNPACK's pool threads now wait for work for the rest of the process. Emscripten keeps a running pthread's
  // Worker referenced, which would keep Node from ever exiting; the work they do is always awaited by a caller.
  for (const worker of [...wasmModule.PThread.runningWorkers, ...wasmModule.PThread.unusedWorkers]) worker.unref();
  return backend;
}

/**
 * The package keeps the pthread worker's source as a string export (meant for a Blob). Node's Worker needs a file:
 * it goes to the temporary directory under a name made from its content, written atomically, so that processes
 * and installs share one copy and never read a half-written or stale one. The string holds literal newlines inside
 * JS string literals; the package's own loader escapes them the same way before use.
 */
function pthreadWorkerScript(wasmOut: string): string {
  const { wasmWorkerContents } = require(join(wasmOut, `${THREADED_BUILD}.worker.js`)) as {
    wasmWorkerContents: string;
  };
  const source = wasmWorkerContents.replace(/\n/g, '\\n');
  const digest = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const path = join(tmpdir(), `gramstyle-tfjs-wasm-pthread-${digest}.cjs`);
  if (!existsSync(path)) {
    const partial = `${path}.${process.pid}.partial`;
    writeFileSync(partial, source);
    renameSync(partial, path);
  }
  return path;
}
