import { parseArgs } from 'node:util';

import { isBackendChoice } from '../engine/index.js';
import { loadEngine } from '../loadEngine.js';
import { locateWeights } from '../weights/locate.js';
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
 * gramstyle doctor [--backend B] [--weights FILE]: where the weights are and whether they read correctly
 * (downloading them first if needed), which backend runs and why better ones were skipped, and how to fix what can
 * be fixed. 0 when stylize can run.
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
  const located = locateWeights({ flag: values.weights });
  say(`weights: ${located.path} (${SOURCE_TEXT[located.source]})`);
  const download = weightsDownloadProgress(progressModeFor(process.stderr, false));
  try {
    const engine = await loadEngine({
      backend: choice,
      weightsFlag: values.weights,
      signal,
      onWeights: (state) => {
        download.onWeights(state);
        if (state.status === 'ready') say(`  verified: ${state.path} holds the VGG-19 convolution weights`);
      },
    });
    const { name, device, skipped } = engine.backend;
    engine.dispose();
    say(`backend: ${name}: ${device}, agrees with the reference on a known answer`);
    for (const skip of skipped) say(`  skipped ${skip.name}: ${skip.reason}`);
  } catch (error) {
    download.finish();
    signal.throwIfAborted();
    usable = false;
    say(`  not usable: ${(error as Error).message}`);
  }

  say(usable ? 'ready: gramstyle stylize can run here' : 'not ready: see the problems above');
  return usable ? 0 : 1;
}

