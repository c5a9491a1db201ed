import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import envPaths from 'env-paths';

/**
 * The pairing token proves that a request comes from someone the user gave it to (the plugin, once pasted): the
 * plugin's iframe has origin "null", so no origin or CORS rule can tell it apart from any web page.
 */
export function defaultConfigDir(): string {
  return envPaths('gramstyle', { suffix: '' }).config;
}

export function tokenPath(configDir = defaultConfigDir()): string {
  return join(configDir, 'pairing-token');
}

/** Reads the token, creating it on first use: 256 random bits, readable by the user only. */
export async function loadOrCreatePairingToken(configDir = defaultConfigDir()): Promise<string> {
  const path = tokenPath(configDir);
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (/^[0-9a-f]{64}$/.test(existing)) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('hex');
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  await chmod(path, 0o600); // writeFile's mode does not apply to a file that already existed
  return token;
}

/** Compares in constant time: hashing first makes the lengths equal without revealing the token's length. */
export function tokenMatches(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
