import { createServer, type Server } from 'node:net';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HelperClient } from './support/helperClient.js';
import { GramstyleCli, type ServingHelper } from './support/gramstyleCli.js';

/**
 * Issue 16, the helper as users start it (`gramstyle serve`, `gramstyle pair`) with its token file in a temporary
 * config folder: the port, the token file, what health tells strangers. Its weights file is missing on purpose, so
 * that the engine fails fast and health has a start-up error (with a path) to keep to itself.
 */

let home: string;
let cli: GramstyleCli;
let serving: ServingHelper;
let missingWeights: string;
const FIRST_TOKEN = '1a'.repeat(32);

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;
const pair = async (): Promise<string> => (await cli.run(['pair'])).stdout.trim();
const pairingStatus = async (token: string): Promise<number> => (await new HelperClient(serving.url, token).fetch('/v1/pairing')).status;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'gramstyle-abuse-serve-'));
  cli = new GramstyleCli(home);
  missingWeights = join(home, 'private-models', 'vgg19-missing.h5');
  // A token file left readable by everyone (as an older version, a backup tool or a careless copy may leave it).
  await mkdir(cli.configDir, { recursive: true });
  await writeFile(cli.tokenFile, `${FIRST_TOKEN}\n`);
  await chmod(cli.tokenFile, 0o644);
  serving = await cli.serve(['--port', '0', '--backend', 'wasm', '--weights', missingWeights]);
});

afterAll(async () => {
  await serving?.stop();
  await rm(home, { recursive: true, force: true });
});

describe('2. a second serve on a port in use', () => {
  it('exits 1 at once, saying the port is in use, and leaves the running helper alone', async () => {
    const second = await cli.run(['serve', '--port', String(serving.port), '--weights', missingWeights], 30_000);
    expect(second.stderr).toBe(`gramstyle: port ${serving.port} is in use (is another gramstyle helper running?)\n`);
    expect(second.code).toBe(1);
    expect(await pairingStatus((await readFile(cli.tokenFile, 'utf8')).trim())).toBe(200);
  });

  it('says so for a port held by another program too', async () => {
    const other: Server = createServer();
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const port = (other.address() as { port: number }).port;
    try {
      const result = await cli.run(['serve', '--port', String(port), '--weights', missingWeights], 30_000);
      expect([result.code, result.stderr]).toEqual([1, `gramstyle: port ${port} is in use (is another gramstyle helper running?)\n`]);
    } finally {
      other.close();
    }
  });
});

