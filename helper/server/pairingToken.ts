import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import envPaths from 'env-paths';

/**
 * The pairing token proves that a request comes from someone the user gave it to (the plugin, once pasted): the
 * plugin's iframe has origin "null", so no origin or CORS rule can tell it apart from any web page.
 *
 * Its one source of truth is the token file: `gramstyle pair` prints what the file holds (making it if need be) and a
 * running helper accepts what the file holds (PairingTokenFile). The file is readable by the user only, always.
 */
export function defaultConfigDir(): string {
  return envPaths('gramstyle', { suffix: '' }).config;
}

export function tokenPath(configDir = defaultConfigDir()): string {
  return join(configDir, 'pairing-token');
}

const TOKEN_PATTERN = /^[0-9a-f]{64}$/;

type TokenFileContent = { readonly kind: 'token'; readonly token: string } | { readonly kind: 'missing' | 'damaged' };

function readTokenFile(path: string): TokenFileContent {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw error;
  }
  const token = text.trim();
  return TOKEN_PATTERN.test(token) ? { kind: 'token', token } : { kind: 'damaged' };
}

/** chmod 0600 if it is not: a file made by hand, copied or restored may be readable by everyone. */
function makePrivate(path: string): void {
  if ((statSync(path).mode & 0o777) !== 0o600) chmodSync(path, 0o600);
}

/**
 * Writes the token file whole: under a temporary name first, so that nobody reads it half written. `if-missing`
 * puts it in place only if no file is there (a hard link fails if the name exists) and says whether it did: when
 * pair and the helper both find the file missing, the first one's token is the token.
 */
function writeTokenFile(path: string, token: string, how: 'replace' | 'if-missing'): boolean {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, `${token}\n`, { mode: 0o600, flag: 'wx' });
  try {
    if (how === 'replace') {
      renameSync(temporary, path);
      return true;
    }
    try {
      linkSync(temporary, path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  } finally {
    rmSync(temporary, { force: true });
  }
}

const newToken = (): string => randomBytes(32).toString('hex');

/** Reads the token, making it on first use (256 random bits) or when the file is damaged; the file ends up 0600. */
export function loadOrCreatePairingToken(configDir = defaultConfigDir()): string {
  const path = tokenPath(configDir);
  // A second round only when another process made the file between our read and our write: then take theirs.
  for (let round = 0; round < 3; round++) {
    const content = readTokenFile(path);
    if (content.kind === 'token') {
      makePrivate(path);
      return content.token;
    }
    const token = newToken();
    if (writeTokenFile(path, token, content.kind === 'damaged' ? 'replace' : 'if-missing')) return token;
  }
  throw new Error(`the pairing token file ${path} keeps changing while it is read; try again`);
}

/** What tells one version of the file from another without reading it. */
function fileIdentity(stats: Stats | undefined): string {
  return stats ? `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}` : 'missing';
}

/**
 * The running helper's token: the file's, followed as it changes, so that the helper always accepts what
 * `gramstyle pair` prints. Each check costs one stat of the file; the file is read again only when it changed. A
 * file that disappeared is written back with the helper's token (unless pair made one meanwhile, which then wins).
 * A damaged file is left for pair to replace; the helper keeps its token until then. Synchronous on purpose: it is a
 * stat of a small local file per request, and an async check would queue every request behind the thread pool.
 */
export class PairingTokenFile {
  private token: string;
  private seen: string;
  readonly path: string;

  constructor(configDir = defaultConfigDir()) {
    this.path = tokenPath(configDir);
    this.token = loadOrCreatePairingToken(configDir);
    this.seen = fileIdentity(statSync(this.path, { throwIfNoEntry: false }));
  }

  current(): string {
    const identity = fileIdentity(statSync(this.path, { throwIfNoEntry: false }));
    if (identity === this.seen) return this.token;
    // Remembered before reading: if the file changes again meanwhile, the next check reads it again.
    this.seen = identity;
    try {
      const content = readTokenFile(this.path);
      if (content.kind === 'token') {
        this.token = content.token;
        makePrivate(this.path);
      } else if (content.kind === 'missing') {
        // If pair made it just now, this fails and the next check reads pair's token.
        writeTokenFile(this.path, this.token, 'if-missing');
      }
    } catch {
      // Unreadable or unwritable (permissions, a full disk): keep the token the helper has, and try again next time.
      this.seen = 'unread';
    }
    return this.token;
  }
}

/** Compares in constant time: hashing first makes the lengths equal without revealing the token's length. */
export function tokenMatches(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
