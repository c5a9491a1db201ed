import { parseArgs } from 'node:util';
import { loadOrCreatePairingToken, tokenPath } from '../server/pairingToken.js';
import { argumentSyntaxError } from './jobArgs.js';

/** gramstyle pair: prints the pairing token to paste into the Figma plugin (creating it on first use). */
export async function pairCommand(argv: readonly string[]): Promise<number> {
  try {
    parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: {} });
  } catch (error) {
    throw argumentSyntaxError(error);
  }
  const token = loadOrCreatePairingToken();
  process.stdout.write(`${token}\n`);
  process.stderr.write(`Paste this token into the Gramstyle plugin in Figma. It is stored in ${tokenPath()}.\n`);
  return 0;
}
