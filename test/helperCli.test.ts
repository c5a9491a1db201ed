import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GramstyleCli } from './support/gramstyleCli.js';
import { HelperClient, samplePng } from './support/helperClient.js';
import { realWeightsPath } from './support/sharedAssets.js';

let home: string;
let cli: GramstyleCli;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'gramstyle-cli-home-'));
  cli = new GramstyleCli(home, { GRAMSTYLE_WEIGHTS: realWeightsPath() });
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

const run = (args: string[]) => cli.run(args);

describe('gramstyle pair', () => {
  it('prints a 256-bit token, stored for the user only, the same every time', async () => {
    const first = await run(['pair']);
    expect(first.code).toBe(0);
    const token = first.stdout.trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(first.stderr).toContain(cli.tokenFile);
    expect((await stat(cli.tokenFile)).mode & 0o777).toBe(0o600);
    expect((await run(['pair'])).stdout.trim()).toBe(token);
  });
});

describe('gramstyle serve', () => {
  it('rejects a bad port and an unknown backend', async () => {
    const result = await run(['serve', '--port', 'http', '--backend', 'tpu']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--port: expected a port number 0–65535, got "http"');
    expect(result.stderr).toContain('--backend: unknown backend "tpu"');
  });

  it('serves the API with the paired token and stops cleanly on SIGTERM, canceling the running job', async () => {
    const token = (await run(['pair'])).stdout.trim();
    const helper = await cli.serve(['--port', '0', '--backend', 'wasm']);
    const client = new HelperClient(helper.url, token);
    for (let health = await client.health(); health.status !== 'ready'; health = await client.health()) {
      expect(health.status).toBe('starting');
      await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    }
    // Two different pictures: with identical ones the start is already optimal and the job ends at once.
    const content = await samplePng(64, 48, ['#123456', '#e0a030']);
    const style = await samplePng(48, 48, ['#c03020', '#30c0a0']);
    const id = await client.submitOk({ content, style, options: { size: 48, iterations: 500 } });
    await client.pollUntil(id, (status) => status.progress.iteration >= 1);

    expect(await helper.stop()).toBe(0);
    expect(helper.log()).toMatch(/SIGTERM: stopping/);
    expect(helper.log()).toContain(`job ${id} canceled`);
    expect(helper.log()).toMatch(/stopped\n$/);
  });

  it('keeps serving when whatever read its log goes away (stdout closed: EPIPE)', async () => {
    const token = (await run(['pair'])).stdout.trim();
    const helper = await cli.serve(['--port', '0', '--backend', 'wasm']);
    try {
      const client = new HelperClient(helper.url, token);
      helper.process.stdout.destroy(); // the terminal closed, or the service manager's reader died
      // Each answer logs a line; writing them to the closed pipe fails, and the helper goes on answering.
      for (let round = 0; round < 5; round++) {
        expect((await client.fetch('/v1/pairing')).status).toBe(200);
        await new Promise((resolveWait) => setTimeout(resolveWait, 120)); // past the log's 50 ms batching
      }
      expect(helper.process.exitCode).toBeNull();
    } finally {
      await helper.stop();
    }
  });
});

describe('gramstyle service', () => {
  it('shows what it would write and run, for another system too, with --dry-run', async () => {
    const result = await run(['service', 'install', '--dry-run', '--platform', 'darwin', '--port', '7416']);
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(`would write ${join(home, 'Library', 'LaunchAgents', 'dev.gramstyle.helper.plist')}:`);
    expect(lines).toContain(`      <string>${GramstyleCli.path}</string>`);
    expect(lines).toContain('      <string>7416</string>');
    expect(lines.some((line) => line.startsWith('would run: launchctl bootstrap gui/'))).toBe(true);
  });

  it('refuses an unknown action and another platform without --dry-run', async () => {
    const result = await run(['service', 'start', '--platform', 'win32']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('service: expected install, uninstall or status, got "start"');
    expect(result.stderr).toContain('--platform: another system can only be shown with --dry-run');
  });
});
