import { parseArgs } from 'node:util';

import { isBackendChoice, selectBackend } from '../engine/index.js';
import { ensureWeights, locateWeights } from '../weights/locate.js';
import { readVggWeightsFile } from '../weights/vggH5.js';
import { argumentSyntaxError, unknownBackendProblem } from './jobArgs.js';
import { progressModeFor } from './progressBar.js';
import { weightsDownloadProgress } from './runJob.js';
import { UsageError } from './usageError.js';
import { gramstyleVersion } from '../version.js';

const SOURCE_TEXT = {
  flag: 'given with --weights',
  env: 'given with GRAMSTYLE_WEIGHTS',
  cache: 'in the cache',
  download: 'not downloaded yet',
} as const;

/**
 * gramstyle doctor [--backend B] [--weights FILE]: which backend runs and why better ones were skipped, where the
 * weights are and whether they read correctly (downloading them first if needed). 0 when stylize can run.
 */
export async function doctorCommand(argv: readonly string[], signal: AbortSignal): Promise<number> {
  let values: { backend?: string; weights?: string };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: { backend: { type: 'string' }, weights: { type: 'string' } },
    }));
  } catch (error) {
    throw argumentSyntaxError(error);
  }
  const choice = values.backend ?? 'auto';
  if (!isBackendChoice(choice)) {
    throw new UsageError([unknownBackendProblem(choice)]);
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);
  let usable = true;

  say(`gramstyle ${gramstyleVersion()}, Node ${process.version} on ${process.platform} ${process.arch}`);
  try {
    const backend = await selectBackend(choice);
    say(`backend: ${backend.name}: ${backend.device}`);
    for (const { name, reason } of backend.skipped) say(`  skipped ${name}: ${reason}`);
  } catch (error) {
    usable = false;
    say(`backend: none usable: ${(error as Error).message}`);
  }

  const located = locateWeights({ flag: values.weights });
  say(`weights: ${located.path} (${SOURCE_TEXT[located.source]})`);
  const download = weightsDownloadProgress(progressModeFor(process.stderr, false));
  try {
    const path = await ensureWeights({ flag: values.weights, signal, onProgress: download.onProgress });
    download.finish();
    await readVggWeightsFile(path);
    say(`  verified: ${path} holds the VGG-19 convolution weights`);
  } catch (error) {
    download.finish();
    signal.throwIfAborted();
    usable = false;
    say(`  not usable: ${(error as Error).message}`);
  }

  say(usable ? 'ready: gramstyle stylize can run here' : 'not ready: see the problems above');
  return usable ? 0 : 1;
}
