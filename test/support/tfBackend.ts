import { selectBackend, type BackendName } from '../../helper/engine/index.js';

/** Tests run on the wasm backend: it always installs, unlike the native TensorFlow backends. */
export async function useTestBackend(name: BackendName = 'wasm'): Promise<void> {
  await selectBackend(name);
}
