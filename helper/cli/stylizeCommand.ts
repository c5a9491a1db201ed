import { parseJobArgs } from './jobArgs.js';
import { printJobReport, runStylizeJob } from './runJob.js';

/** gramstyle stylize <content> <style> -o <out.png> [options] */
export async function stylizeCommand(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const args = parseJobArgs(argv, {
    command: 'stylize',
    positionals: ['content image', 'style image'],
    outputRequired: true,
  });
  const [content, style] = args.positionals as [string, string];
  const outputPath = args.outputPath!;
  const report = await runStylizeJob({ ...args, content, style, outputPath, signal });
  printJobReport(report, outputPath, args.json);
  return 0;
}
