import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HelperClient, samplePng } from './support/helperClient.js';
import { realWeightsPath } from './support/sharedAssets.js';

const CLI = resolve(import.meta.dirname, '..', 'bin', 'gramstyle.js');
let home: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'gramstyle-cli-home-'));
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

/** The CLI with a temporary HOME and config directory, so that the user's own token and services are untouched. */
function gramstyle(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), GRAMSTYLE_WEIGHTS: realWeightsPath() },
  });
}

async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = gramstyle(args);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const code = await new Promise<number | null>((done) => child.on('close', done));
  return { code, stdout, stderr };
}

describe('gramstyle pair', () => {
  it('prints a 256-bit token, stored for the user only, the same every time', async () => {
    const first = await run(['pair']);
    expect(first.code).toBe(0);
    const token = first.stdout.trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    const tokenFile = join(home, '.config', 'gramstyle', 'pairing-token');
    expect(first.stderr).toContain(tokenFile);
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
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
    const helper = gramstyle(['serve', '--port', '0', '--backend', 'wasm']);
    let log = '';
    helper.stderr.on('data', (chunk: Buffer) => (log += chunk));
    const url = await new Promise<string>((found, fail) => {
      helper.stdout.on('data', (chunk: Buffer) => {
        log += chunk;
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
        if (match) found(match[1]!);
      });
      helper.on('close', () => fail(new Error(`serve exited early:\n${log}`)));
    });
    const client = new HelperClient(url, token);
    for (let health = await client.health(); health.status !== 'ready'; health = await client.health()) {
      expect(health.status).toBe('starting');
      await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    }
    // Two different pictures: with identical ones the start is already optimal and the job ends at once.
    const content = await samplePng(64, 48, ['#123456', '#e0a030']);
    const style = await samplePng(48, 48, ['#c03020', '#30c0a0']);
    const id = await client.submitOk({ content, style, options: { size: 48, iterations: 500 } });
    await client.pollUntil(id, (status) => status.progress.iteration >= 1);

    const exited = new Promise<number | null>((done) => helper.on('close', done));
    helper.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(log).toMatch(/SIGTERM: stopping/);
    expect(log).toContain(`job ${id} canceled`);
    expect(log).toMatch(/stopped\n$/);
  });
});

describe('gramstyle service', () => {
  it('shows what it would write and run, for another system too, with --dry-run', async () => {
    const result = await run(['service', 'install', '--dry-run', '--platform', 'darwin', '--port', '7416']);
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(`would write ${join(home, 'Library', 'LaunchAgents', 'dev.gramstyle.helper.plist')}:`);
    expect(lines).toContain(`      <string>${CLI}</string>`);
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
