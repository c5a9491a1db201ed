import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ConvolutionAlgorithm } from './vggBlocks.js';

/**
 * onnxruntime's execution providers that the engine can run on, best first, and what each needs. The npm package
 * ships the CPU provider everywhere, WebGPU (Dawn: Metal, D3D12 or Vulkan) on every desktop platform, DirectML on
 * Windows and CoreML on macOS; CUDA only when asked for at install time.
 */
export const ONNX_BACKENDS = {
  'onnxruntime-cuda': 'cuda',
  'onnxruntime-dml': 'dml',
  'onnxruntime-coreml': 'coreml',
  'onnxruntime-webgpu': 'webgpu',
  onnxruntime: 'cpu',
} as const;
export type OnnxBackendName = keyof typeof ONNX_BACKENDS;

const CUDA_INSTALL_COMMAND = 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node';

export interface ProviderPlan {
  readonly executionProvider: ort.InferenceSession.ExecutionProviderConfig;
  readonly threads: number;
  /** For people: "CPU (onnxruntime, 2 threads)". */
  readonly device: string;
  /** Set when the provider runs on no GPU hardware (a software rasterizer): `auto` passes over it. */
  readonly softwareOnly: string | null;
  /**
   * Whether onnxruntime plans each input shape's memory as one block. It keeps a block per shape, and every scale of
   * a job is a shape: on the CPU provider a 1024 px job-shaped step peaked at 4.6 GB of RSS with it and 3.0 GB
   * without, no slower (bench, 2026-12-02). DirectML cannot run with it (onnxruntime's DirectML documentation).
   */
  readonly memoryPattern: boolean;
  /**
   * How the objective's convolutions are written: Winograd's for the CPU provider, which runs ONNX's Conv as a
   * direct convolution already near the processor's peak; plain Conv for GPU providers, which choose their own.
   */
  readonly convolutions: ConvolutionAlgorithm;
}

/**
 * How to run a backend here, or an Error saying why it cannot and how to fix that where something can be done.
 * Only what can be known without starting the provider; starting it may still fail (OnnxGatysNetwork.create).
 */
export function providerPlan(backend: OnnxBackendName): ProviderPlan | Error {
  const provider = ONNX_BACKENDS[backend];
  const threads = availableParallelism();
  const supported = new Set(ort.listSupportedBackends().map(({ name }) => name));
  const platform = `${process.platform}/${process.arch}`;
  switch (provider) {
    case 'cpu':
      return { executionProvider: 'cpu', threads, device: `CPU (onnxruntime, ${threads} thread${threads === 1 ? '' : 's'})`, softwareOnly: null, memoryPattern: false, convolutions: 'winograd' };
    case 'cuda': {
      if (!supported.has('cuda')) return new Error(`onnxruntime-node has no CUDA provider for ${platform} (only Linux and Windows x64)`);
      if (!cudaProviderInstalled()) {
        const driver = nvidiaDriverFound()
          ? 'an NVIDIA driver is installed, but'
          : 'it needs an NVIDIA GPU with its driver, CUDA 12 and cuDNN 9, and';
        return new Error(`${driver} onnxruntime's CUDA provider is not (npm ci skips its download): run \`${CUDA_INSTALL_COMMAND}\``);
      }
      return { executionProvider: 'cuda', threads, device: 'NVIDIA GPU (onnxruntime CUDA)', softwareOnly: null, memoryPattern: true, convolutions: 'direct' };
    }
    case 'dml':
      if (!supported.has('dml')) return new Error('DirectML is only on Windows');
      return { executionProvider: 'dml', threads, device: 'GPU (onnxruntime DirectML)', softwareOnly: null, memoryPattern: false, convolutions: 'direct' };
    case 'coreml':
      if (!supported.has('coreml')) return new Error('CoreML is only on macOS');
      return {
        // ML Program models take inputs of flexible size (the older NeuralNetwork format needs fixed shapes, and
        // would leave every node of the symbolic-size graphs to the CPU). COREML_FLAG_CREATE_MLPROGRAM = 0x010.
        executionProvider: { name: 'coreml', coreMlFlags: 0x010 },
        threads,
        device: 'Apple GPU and Neural Engine (onnxruntime CoreML)',
        softwareOnly: null,
        memoryPattern: true,
        convolutions: 'direct',
      };
    case 'webgpu': {
      if (!supported.has('webgpu')) return new Error(`onnxruntime-node has no WebGPU provider for ${platform}`);
      const software = softwareGpuReason();
      return {
        executionProvider: 'webgpu',
        threads,
        device: software ? 'software GPU (onnxruntime WebGPU)' : 'GPU (onnxruntime WebGPU)',
        softwareOnly: software,
        memoryPattern: true,
        convolutions: 'direct',
      };
    }
  }
}

/** The folder of onnxruntime-node's native binding, where optional providers are installed beside it. */
function bindingDir(): string {
  const packageJson = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  return join(dirname(packageJson), 'bin', 'napi-v6', process.platform, process.arch);
}

function cudaProviderInstalled(): boolean {
  const file = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  return existsSync(join(bindingDir(), file));
}

export function nvidiaDriverFound(): boolean {
  return existsSync('/proc/driver/nvidia/version') || existsSync('/dev/nvidiactl');
}

/** Vulkan drivers that draw on the CPU: Mesa's lavapipe and Google's SwiftShader. */
const SOFTWARE_VULKAN = /lvp|lavapipe|swiftshader/i;

/**
 * Why WebGPU here can only be a software rasterizer, or null. On macOS it is Metal, on Windows D3D12, both on the
 * GPU. On Linux Dawn uses Vulkan: a GPU needs its device node (/dev/dri/renderD*, /dev/nvidia*) and a Vulkan driver
 * that is not a software one; otherwise Dawn falls back to lavapipe, correct but slower than the CPU provider.
 */
function softwareGpuReason(): string | null {
  if (process.platform !== 'linux') return null;
  const devices = listDir('/dev/dri').some((name) => name.startsWith('renderD')) || existsSync('/dev/nvidia0');
  if (!devices) return 'no GPU device found (/dev/dri/renderD*, /dev/nvidia0): WebGPU would run on a software Vulkan driver';
  const drivers = vulkanDriverManifests();
  if (!drivers.some((manifest) => !SOFTWARE_VULKAN.test(manifest))) {
    return `no hardware Vulkan driver found (${drivers.length ? drivers.join(', ') : 'none'}): WebGPU would run on a software one`;
  }
  return null;
}

/** The Vulkan loader's driver manifests (ICD JSON files), as it finds them: the override variables, else the folders. */
function vulkanDriverManifests(): string[] {
  const override = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES;
  if (override) return override.split(delimiter).filter(Boolean).map((file) => libraryOf(file));
  const dataDirs = (process.env.XDG_DATA_DIRS ?? '/usr/local/share:/usr/share').split(delimiter);
  const folders = ['/etc/vulkan/icd.d', ...dataDirs.map((dir) => join(dir, 'vulkan', 'icd.d'))];
  return folders.flatMap((folder) => listDir(folder).filter((name) => name.endsWith('.json')).map((name) => libraryOf(join(folder, name))));
}

/** A manifest's file name and the driver library it names (lavapipe's manifest may be renamed, its library not). */
function libraryOf(manifest: string): string {
  try {
    const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { ICD?: { library_path?: string } };
    return `${manifest.split('/').pop()} (${parsed.ICD?.library_path ?? '?'})`;
  } catch {
    return manifest;
  }
}

function listDir(folder: string): string[] {
  try {
    return readdirSync(folder);
  } catch {
    return [];
  }
}
