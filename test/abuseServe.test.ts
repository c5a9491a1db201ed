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

describe('7. the token file is readable by its user only', () => {
  it('serve makes an existing 0644 token file 0600, keeping its token', async () => {
    expect(await mode(cli.tokenFile)).toBe(0o600);
    expect(await pair()).toBe(FIRST_TOKEN);
  });

  it('so does pair', async () => {
    await chmod(cli.tokenFile, 0o644);
    expect(await pair()).toBe(FIRST_TOKEN);
    expect(await mode(cli.tokenFile)).toBe(0o600);
  });
});

describe('8. health tells strangers nothing of the machine', () => {
  it('says to anyone that the helper could not start; why, and where its weights are, only with the token', async () => {
    const client = new HelperClient(serving.url, FIRST_TOKEN);
    let publicHealth = await client.publicHealth();
    for (const deadline = Date.now() + 60_000; publicHealth.status !== 'error' && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      publicHealth = await client.publicHealth();
    }
    expect(publicHealth).toMatchObject({ name: 'gramstyle', apiVersion: 1, status: 'error', details: null });
    const raw = await (await client.fetch('/v1/health', { token: null })).text();
    expect(raw).not.toContain(home);
    expect(raw).not.toMatch(/private-models|vgg19|\.h5/);
    const paired = await client.health();
    expect(paired.details!.message).toContain(missingWeights);
  });
});

describe('6. pair and a running helper agree on the token', () => {
  it('a deleted token file is written back with the helper token, which pair then prints', async () => {
    await rm(cli.tokenFile);
    expect(await pairingStatus(FIRST_TOKEN)).toBe(200);
    expect(await pair()).toBe(FIRST_TOKEN);
    expect(await mode(cli.tokenFile)).toBe(0o600);
  });

  it('a token file deleted and made again by pair: the helper takes the new token, and only it', async () => {
    await rm(cli.tokenFile);
    const printed = await pair();
    expect(printed).toMatch(/^[0-9a-f]{64}$/);
    expect(printed).not.toBe(FIRST_TOKEN);
    expect(await pairingStatus(printed)).toBe(200);
    expect(await pairingStatus(FIRST_TOKEN)).toBe(401);
  });

  it('a damaged token file, replaced by pair: the helper takes the new token', async () => {
    const before = (await readFile(cli.tokenFile, 'utf8')).trim();
    await writeFile(cli.tokenFile, 'not a token\n');
    expect(await pairingStatus(before)).toBe(200); // a damaged file is not a new token: the helper keeps its own
    const printed = await pair();
    expect(printed).toMatch(/^[0-9a-f]{64}$/);
    expect(printed).not.toBe(before);
    expect(await pairingStatus(printed)).toBe(200);
  });
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

describe('the log of serve', () => {
  it('never shows a token', async () => {
    const token = (await readFile(cli.tokenFile, 'utf8')).trim();
    await new HelperClient(serving.url, token).fetch(`/v1/pairing?token=${token}`);
    const logged = /GET \/v1\/pairing\?token=\[redacted\] 200/;
    for (const deadline = Date.now() + 10_000; !logged.test(serving.log()) && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(serving.log()).toMatch(logged);
    for (const shown of [FIRST_TOKEN, token]) expect(serving.log()).not.toContain(shown);
  });
});
