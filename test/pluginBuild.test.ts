import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext, runInContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FakeFigma } from './support/fakeFigma.js';
import { type FigmaManifest, manifestProblems, readManifest } from './support/figmaManifest.js';
import { GramstyleCli } from './support/gramstyleCli.js';

/**
 * `gramstyle plugin build --server URL`: the Figma plugin for a team's server, as an organisation imports it. The real
 * CLI and build (esbuild); the built main.js runs in a bare context, as in Figma's sandbox.
 */

let home: string;
let cli: GramstyleCli;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'gramstyle-plugin-build-'));
  cli = new GramstyleCli(home);
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('gramstyle plugin build', () => {
  it('writes a plugin that Figma imports, allowed to reach exactly the team server, and talking to it', async () => {
    const out = join(home, 'team-plugin');
    const { code, stdout, stderr } = await cli.run(['plugin', 'build', '--server', 'https://Style.Example.com/', '-o', out, '--id', '1234567890']);
    expect(code, stderr).toBe(0);
    expect(stdout.trim()).toBe(join(out, 'manifest.json'));
    expect(stderr).toMatch(/Import plugin from manifest/);

    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as FigmaManifest;
    expect(manifestProblems(manifest, out)).toEqual([]);
    const base = readManifest();
    expect(manifest).toEqual({
      ...base,
      name: 'Gramstyle (style.example.com)',
      id: '1234567890',
      main: 'main.js',
      ui: 'ui.html',
      networkAccess: { allowedDomains: ['https://style.example.com'], reasoning: expect.stringContaining('style.example.com') },
    });
    expect(manifest.networkAccess?.reasoning).toMatch(/team's Gramstyle server .* talks to nothing else/);

    // The built main thread hands the panel the team server, not the local helper.
    const figma = new FakeFigma();
    const ui = await readFile(join(out, 'ui.html'), 'utf8');
    runInContext(await readFile(join(out, 'main.js'), 'utf8'), createContext({ figma: figma.api, __html__: ui, console, setTimeout, clearTimeout }));
    expect(figma.ui.html).toContain('id="helper-server"');
    await figma.ui.fromPanel({ type: 'ready' });
    expect(figma.ui.posted[0]).toMatchObject({ type: 'init', helperUrl: 'https://style.example.com', token: null });
  });

  it('refuses what Figma would refuse or what would send tokens in the clear, exiting 2 and writing nothing', async () => {
    const out = join(home, 'refused');
    const servers = ['https://10.0.0.8', 'https://[::1]:8443', 'http://style.example.com', 'https://style.example.com/gramstyle', 'style.example.com'];
    const refusals = await Promise.all(servers.map((server) => cli.run(['plugin', 'build', '--server', server, '-o', out])));
    for (const { code, stdout } of refusals) expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    const [ipv4, ipv6, http, path, bare] = refusals.map(({ stderr }) => stderr.trim());
    expect(ipv4).toBe("gramstyle: --server: Figma takes only domain names in a plugin's allowedDomains, not an IP address (10.0.0.8)");
    expect(ipv6).toMatch(/not an IP address \(::1\)/);
    expect(http).toBe('gramstyle: --server: expected https:// (tokens and images cross the network), got "http://style.example.com"');
    expect(path).toMatch(/expected the server's address alone/);
    expect(bare).toMatch(/expected a URL such as https:\/\/style\.example\.com, got "style\.example\.com"/);
    expect(existsSync(out)).toBe(false);

    const usage = await cli.run(['plugin', 'publish', '-o', out]);
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim().split('\n')).toEqual([
      'gramstyle: plugin: expected build, got "publish"',
      'gramstyle: plugin build: missing --server URL, the team server',
    ]);
  });

  it('takes http only for this computer’s localhost (a gateway tried out on one machine)', async () => {
    const out = join(home, 'local-plugin');
    const { code, stderr } = await cli.run(['plugin', 'build', '--server', 'http://localhost:7416', '-o', out]);
    expect(code, stderr).toBe(0);
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as FigmaManifest;
    expect(manifest.networkAccess?.allowedDomains).toEqual(['http://localhost:7416']);
    expect(manifestProblems(manifest, out)).toEqual([]);
  });
});
