import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ServicePlan } from './servicePlan.js';

export interface ApplyOptions {
  /** Print what would be written and run, change nothing. */
  readonly dryRun: boolean;
  /** Write and remove the files but run no command (for checking the files on a machine without the service manager). */
  readonly skipCommands?: boolean;
  readonly print: (line: string) => void;
}

/** Carries out a plan; returns the exit status of the last command that was not allowed to fail (0 if none failed). */
export async function applyServicePlan(plan: ServicePlan, options: ApplyOptions): Promise<number> {
  const { dryRun, print } = options;
  for (const file of plan.writeFiles) {
    print(`${dryRun ? 'would write' : 'writing'} ${file.path}:`);
    for (const line of file.content.trimEnd().split('\n')) print(`  ${line}`);
    if (!dryRun) {
      await mkdir(dirname(file.path), { recursive: true });
      // A byte-order mark tells Windows which UTF-16 it is.
      const bytes = file.encoding === 'utf16le' ? Buffer.from(`\ufeff${file.content}`, 'utf16le') : file.content;
      await writeFile(file.path, bytes);
    }
  }
  for (const path of plan.removeFiles) {
    print(`${dryRun ? 'would remove' : 'removing'} ${path}`);
    if (!dryRun) await rm(path, { force: true });
  }
  let status = 0;
  for (const command of plan.commands) {
    print(`${dryRun || options.skipCommands ? 'would run' : 'running'}: ${command.argv.join(' ')}`);
    if (dryRun || options.skipCommands) continue;
    const result = spawnSync(command.argv[0]!, command.argv.slice(1), { stdio: 'inherit' });
    const exitStatus = result.error ? 127 : (result.status ?? 1);
    if (exitStatus !== 0 && !command.ignoreFailure) {
      print(`  failed (${result.error ? result.error.message : `exit status ${exitStatus}`})`);
      status = exitStatus;
    }
  }
  return status;
}
