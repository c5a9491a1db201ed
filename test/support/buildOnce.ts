import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * vitest global setup: compile once before any test file runs. The CLI tests spawn bin/gramstyle.js and the
 * helper runs its engine in a worker thread; both execute the compiled JavaScript in dist/.
 */
export default function buildOnce(): void {
  const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: projectRoot, stdio: 'inherit' });
}
