import { BACKEND_NAMES } from '../engine/index.js';
import { DEFAULT_GATEWAY_PORT } from '../../shared/protocol.js';
import {
  MAX_STYLE_SCALE,
  MAX_STYLES,
  MIN_STYLE_SCALE,
  MULTI_SCALE_AUTO_SIZE,
  stylizeOptionsSchema,
} from '../../shared/stylizeOptions.js';
import { batchCommand } from './batchCommand.js';
import { demoCommand, DEMO_ITERATIONS, DEMO_OUTPUT, DEMO_SIZE } from './demoCommand.js';
import { doctorCommand } from './doctorCommand.js';
import { gatewayCommand } from './gatewayCommand.js';
import { pairCommand } from './pairCommand.js';
import { pluginCommand } from './pluginCommand.js';
import { serveCommand } from './serveCommand.js';
import { serviceCommand } from './serviceCommand.js';
import { choiceList } from './jobArgs.js';
import { stylizeCommand } from './stylizeCommand.js';
import { usersCommand } from './usersCommand.js';
import { UsageError } from './usageError.js';
import { workerCommand } from './workerCommand.js';
import { gramstyleVersion } from '../version.js';

type Command = (argv: readonly string[], signal: AbortSignal) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  stylize: stylizeCommand,
  doctor: doctorCommand,
  demo: demoCommand,
  serve: serveCommand,
  pair: pairCommand,
  service: serviceCommand,
  gateway: gatewayCommand,
  worker: workerCommand,
  users: usersCommand,
  batch: batchCommand,
  plugin: pluginCommand,
};

/** The `gramstyle` command line. Returns the exit code: 0 done, 1 failed, 2 wrong usage, 130 interrupted. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(helpText());
    return 2;
  }
  if (name === 'help' || name === '--help' || name === '-h' || rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(helpText());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${gramstyleVersion()}\n`);
    return 0;
  }

  // Ctrl-C stops a job between two iterations (or a download at once); a second Ctrl-C kills the process.
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  try {
    const command = COMMANDS[name];
    if (!command) {
      throw new UsageError([`unknown command "${name}" (choose ${choiceList(Object.keys(COMMANDS))}, or help)`]);
    }
    return await command(rest, interrupt.signal);
  } catch (error) {
    if (error instanceof UsageError) {
      for (const problem of error.problems) process.stderr.write(`gramstyle: ${problem}\n`);
      return 2;
    }
    if (interrupt.signal.aborted) {
      process.stderr.write('gramstyle: interrupted\n');
      return 130;
    }
    process.stderr.write(`gramstyle: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

function helpText(): string {
  const defaults = stylizeOptionsSchema.parse({});
  return `gramstyle ${gramstyleVersion()}: neural style transfer (Gatys et al.) on your own machine

Usage:
  gramstyle stylize <content> <style> [<style> …] -o <out.png> [options]
                                           up to ${MAX_STYLES} style images, their Gram matrices blended
  gramstyle demo [-o out.png] [options]    stylize the built-in sample frames (default ${DEMO_OUTPUT},
                                           --size ${DEMO_SIZE} --iterations ${DEMO_ITERATIONS})
  gramstyle doctor [--backend B] [--weights FILE]
                                           show the backend and the weights, download them if needed
  gramstyle serve [--port 7415] [--host 127.0.0.1] [--backend B] [--weights FILE]
                                           the helper the Figma plugin talks to (stops on SIGTERM)
  gramstyle pair                           print the pairing token to paste into the plugin
  gramstyle service install|uninstall|status [--dry-run] [serve options]
                                           run the helper in the background at logon (systemd,
                                           launchd or a Windows scheduled task)

Team mode (see the README): a gateway on a server, workers on GPU hosts, BullMQ on Redis between them
  gramstyle gateway --redis URL [--host 127.0.0.1] [--port ${DEFAULT_GATEWAY_PORT}] [--public-name NAME]
                    [--tls-cert FILE --tls-key FILE | --behind-proxy] [--max-waiting 32] [--keep-minutes 30]
                                           the team's server: the helper's API, a token per user; it
                                           listens beyond this machine only with TLS (its own or a proxy's)
  gramstyle worker --redis URL [--backend B] [--weights FILE] [--name NAME] [--lock-seconds 30]
                                           run the gateway's jobs on this host, one at a time
  gramstyle users add NAME | revoke NAME | list [--redis URL]
                                           a gateway's users: add prints the user's personal token
  gramstyle batch --server URL --token T <style> <content>... -o DIR [options]
                                           many contents against one style on a gateway or helper;
                                           the token may come from GRAMSTYLE_TOKEN instead
  gramstyle plugin build --server URL [-o DIR] [--name NAME] [--id ID]
                                           the Figma plugin for the team server (https, a domain
                                           name; default DIR gramstyle-plugin): import DIR/manifest.json
  --redis defaults to GRAMSTYLE_REDIS, else redis://127.0.0.1:6379.

  gramstyle help | --help | --version

Images: PNG, JPEG or WebP; transparency is flattened onto white. The result is a PNG.

Options of stylize, demo and batch:
  -o, --output FILE        where to write the result (.png); its folder is created if missing
  --size N                 long side of the result in pixels, in the content's aspect ratio (default ${defaults.size})
  --iterations N           optimization steps (default ${defaults.iterations})
  --strength S             0 keeps the content … 100 is nearly pure texture (default ${defaults.strength})
  --preserve-colors off|luminance|histogram
                           keep the content's colours: transfer the luminance only, or match the
                           style's colours to the content's first (default ${defaults.preserveColors})
  --style-scale X          brush size: the style image's long side as ${MIN_STYLE_SCALE}–${MAX_STYLE_SCALE} × the result's
                           (default ${defaults.styleScale})
  --style-blend a,b,…      stylize: a weight for each style image (default: equal weights)
  --init content|noise     start from the content image or from noise (default ${defaults.init})
  --seed N                 seed of the noise start (default ${defaults.seed})
  --pooling avg|max        VGG-19 pooling (default ${defaults.pooling})
  --optimizer lbfgs|adam   (default ${defaults.optimizer})
  --style-weights a,b,c,d,e
                           weights of conv1_1 … conv5_1 in the style loss (default ${defaults.styleLayerWeights})
  --tv W                   total-variation smoothing weight (default ${defaults.tvWeight})
  --multi-scale auto|on|off
                           optimize coarse to fine (default ${defaults.multiScale}: on from ${MULTI_SCALE_AUTO_SIZE} px up)
  --backend B              ${choiceList(['auto', ...BACKEND_NAMES])} (default auto: the first that loads)
  --weights FILE           VGG-19 weights (.h5); else GRAMSTYLE_WEIGHTS, else the cache, else a download
  --json                   print one JSON line with the result on stdout, nothing else

Exit codes: 0 done, 1 failed, 2 wrong usage, 130 interrupted.
`;
}
