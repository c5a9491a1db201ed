import { activateTfjsBackend, type TfjsBackendName } from '../../helper/engine/index.js';

/** Tests run on the wasm backend: it always installs, unlike the native TensorFlow backends. */
export async function useTestBackend(name: TfjsBackendName = 'wasm'): Promise<void> {
  await activateTfjsBackend(name);
}
