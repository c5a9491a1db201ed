import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseCommandArgs } from './teamArgs.js';
import { UsageError } from './usageError.js';

const PLUGIN_FLAGS = {
  server: { type: 'string' },
  output: { type: 'string', short: 'o' },
  name: { type: 'string' },
  id: { type: 'string' },
} as const;

const DEFAULT_OUTPUT = 'gramstyle-plugin';

/** The project's folder: bin/gramstyle.js runs dist/helper/cli/ from it. */
const projectRoot = resolve(fileURLToPath(import.meta.url), '..', '..', '..', '..');

/**
 * The server a team's plugin talks to, as manifest.json's allowedDomains must name it: an origin (scheme, host,
 * port), https unless it is this machine's localhost, and a domain name (Figma refuses IP literals there). Returns the
 * origin, or the problem.
 */
export function pluginServerOrigin(server: string): { origin: string } | { problem: string } {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return { problem: `--server: expected a URL such as https://style.example.com, got "${server}"` };
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) {
    return { problem: `--server: Figma takes only domain names in a plugin's allowedDomains, not an IP address (${host})` };
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && host === 'localhost')) {
    return { problem: `--server: expected https:// (tokens and images cross the network), got "${server}"` };
  }
  if (url.pathname !== '/' || url.search || url.hash || url.username) {
    return { problem: `--server: expected the server's address alone (its /v1 API is found under it), got "${server}"` };
  }
  return { origin: url.origin };
}

/**
 * gramstyle plugin build --server URL [-o DIR] [--name NAME] [--id ID]: the Figma plugin for an organisation's team
 * server, to import or publish privately: DIR/manifest.json allows exactly that server (with the reasoning Figma shows
 * users and admins), and the panel talks to it, the one server this build can reach.
 */
export async function pluginCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, PLUGIN_FLAGS, true);
  const problems: string[] = [];
  const [action, ...extra] = positionals;
  if (action !== 'build') problems.push(`plugin: expected build${action === undefined ? '' : `, got "${action}"`}`);
  for (const argument of extra) problems.push(`plugin: unexpected argument "${argument}"`);
  const server = values.server === undefined ? { problem: 'plugin build: missing --server URL, the team server' } : pluginServerOrigin(values.server);
  if ('problem' in server) problems.push(server.problem);
  if (values.id !== undefined && !/^\d+$/.test(values.id)) problems.push(`--id: expected the plugin id Figma gave (digits), got "${values.id}"`);
  if (problems.length > 0 || 'problem' in server) throw new UsageError(problems);

  const buildScript = join(projectRoot, 'plugin', 'build.mjs');
  if (!existsSync(buildScript)) throw new Error(`${buildScript} is missing: plugin build runs in the project's folder`);
  const outputDir = resolve(values.output ?? DEFAULT_OUTPUT);
  await mkdir(outputDir, { recursive: true });
  try {
    await promisify(execFile)(process.execPath, [buildScript, '--outdir', outputDir, '--server', server.origin], { cwd: projectRoot });
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`building the plugin failed (it needs the project's dev dependencies: npm ci):\n${stderr ?? String(error)}`);
  }

  const host = new URL(server.origin).host;
  const base = JSON.parse(await readFile(join(projectRoot, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  const manifest = {
    ...base,
    name: values.name ?? `Gramstyle (${host})`,
    ...(values.id === undefined ? {} : { id: values.id }),
    main: 'main.js',
    ui: 'ui.html',
    networkAccess: {
      allowedDomains: [server.origin],
      reasoning:
        `Gramstyle sends the frames you select to your team's Gramstyle server at ${host}, which does the style ` +
        "transfer on the team's own machines and sends the result back. It talks to nothing else.",
    },
  };
  await writeFile(join(outputDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  process.stdout.write(`${join(outputDir, 'manifest.json')}\n`);
  process.stderr.write(
    `gramstyle: the plugin for ${server.origin} is in ${outputDir}: in Figma's desktop app, Plugins → Development → ` +
      'Import plugin from manifest…, then publish it privately to your organisation.\n',
  );
  return 0;
}
