import { MAX_STYLES } from '../../shared/stylizeOptions.js';
import { parseJobArgs } from './jobArgs.js';
import { printJobReport, runStylizeJob } from './runJob.js';

/** gramstyle stylize <content> <style> [<style> …] -o <out.png> [options] */
export async function stylizeCommand(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const args = parseJobArgs(argv, {
    command: 'stylize',
    positionals: ['content image', 'style image'],
    lastPositionalMax: MAX_STYLES,
    styleCount: (positionals) => positionals.length - 1,
    outputRequired: true,
  });
  const [content, ...styles] = args.positionals as [string, ...string[]];
  const outputPath = args.outputPath!;
  const report = await runStylizeJob({ ...args, content, styles, outputPath, signal });
  printJobReport(report, outputPath, args.json);
  return 0;
}
