import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Gramstyle's version from its package.json, found by walking up from this module: it runs both from helper/
 * (tests) and from dist/helper/ (the build), at different depths.
 */
export function gramstyleVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Partial<Record<string, string>>;
      if (manifest.name === 'gramstyle' && manifest.version) return manifest.version;
    } catch {
      // No package.json here: keep walking up.
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}
