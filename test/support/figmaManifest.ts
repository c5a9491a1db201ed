import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * manifest.json as Figma reads it, the rules Figma applies when a plugin is imported, and the Content-Security-Policy
 * Figma derives from `networkAccess.allowedDomains` for the plugin's UI (which the test harness gives its iframe).
 *
 * The rules, from Figma's plugin manifest documentation (developers.figma.com/docs/plugins/manifest and
 * …/making-network-requests) and the client's import errors:
 * - every domain has a scheme ("Invalid value for allowedDomains. 'figma.com' must include a scheme, such as
 *   https://"), then a domain name (optionally `*.`-wildcarded) or `localhost`, an optional port and path; an IP
 *   literal such as 127.0.0.1 fails the check, in `devAllowedDomains` too;
 * - `"none"` alone means no network access;
 * - `reasoning` explains to users and org admins why the plugin needs localhost (or every domain);
 * - `documentAccess: "dynamic-page"` is required of new plugins; `editorType` names Figma's editors;
 * - `main` and `ui` are files relative to the manifest.
 */

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface FigmaManifest {
  readonly name?: unknown;
  readonly api?: unknown;
  readonly main?: unknown;
  readonly ui?: unknown;
  readonly editorType?: unknown;
  readonly documentAccess?: unknown;
  readonly networkAccess?: {
    readonly allowedDomains?: unknown;
    readonly reasoning?: unknown;
    readonly devAllowedDomains?: unknown;
  };
}

export function readManifest(root = projectRoot): FigmaManifest {
  return JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')) as FigmaManifest;
}

/** The editors a plugin may name in `editorType` (the values of `figma.editorType`). */
const EDITOR_TYPES = ['figma', 'figjam', 'dev', 'slides', 'buzz'];

const DOMAIN_PATTERN =
  /^(?<scheme>https?|wss?):\/\/(?<host>localhost|(?:\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)(?::(?<port>\d{1,5}))?(?<path>\/[^\s]*)?$/i;

export interface ParsedDomain {
  readonly scheme: string;
  readonly host: string;
  readonly port: string | null;
}

/** One entry of allowedDomains or devAllowedDomains, or the reason Figma refuses it. */
export function parseDomain(entry: string): ParsedDomain | { problem: string } {
  const match = DOMAIN_PATTERN.exec(entry);
  const groups = match?.groups;
  if (!groups?.scheme || !groups.host) {
    return { problem: `"${entry}" is not a scheme followed by a domain name or localhost and an optional port` };
  }
  // A top-level domain is never all digits: that is an IPv4 literal, which Figma rejects.
  if (/^\d+$/.test(groups.host.split('.').at(-1) ?? '')) {
    return { problem: `"${entry}" names an IP address; Figma accepts only domain names and localhost` };
  }
  if (groups.port !== undefined && Number(groups.port) > 65_535) return { problem: `"${entry}" has no valid port` };
  return { scheme: groups.scheme.toLowerCase(), host: groups.host.toLowerCase(), port: groups.port ?? null };
}

/** Every way `manifest` breaks Figma's rules; empty when Figma would import it. */
export function manifestProblems(manifest: FigmaManifest, root = projectRoot): string[] {
  const problems: string[] = [];
  if (typeof manifest.name !== 'string' || manifest.name.trim() === '') problems.push('name: missing');
  if (typeof manifest.api !== 'string') problems.push('api: missing');
  if (manifest.documentAccess !== 'dynamic-page') problems.push('documentAccess: must be "dynamic-page"');

  const editors = manifest.editorType;
  if (!Array.isArray(editors) || editors.length === 0) problems.push('editorType: must list at least one editor');
  else for (const editor of editors) if (!EDITOR_TYPES.includes(editor as string)) problems.push(`editorType: unknown editor ${JSON.stringify(editor)}`);

  for (const [key, file] of [['main', manifest.main], ...uiFiles(manifest.ui)] as const) {
    if (typeof file !== 'string') problems.push(`${key}: missing`);
    else if (!existsSync(join(root, file))) problems.push(`${key}: ${file} does not exist (run npm run build)`);
  }

  const network = manifest.networkAccess;
  if (!network) return [...problems, 'networkAccess: missing (Figma then allows every domain)'];
  const allowed = domainList(network.allowedDomains, 'allowedDomains', problems);
  if (network.devAllowedDomains !== undefined) domainList(network.devAllowedDomains, 'devAllowedDomains', problems);
  const needsReason = allowed.some((entry) => entry === '*' || hostOf(entry) === 'localhost');
  if (needsReason && !(typeof network.reasoning === 'string' && network.reasoning.trim().length > 0)) {
    problems.push('networkAccess.reasoning: required to allow localhost');
  }
  return problems;
}

function uiFiles(ui: unknown): (readonly [string, unknown])[] {
  if (ui === undefined) return [];
  if (typeof ui === 'string' || ui === null || typeof ui !== 'object') return [['ui', ui]];
  return Object.entries(ui).map(([name, file]) => [`ui.${name}`, file] as const);
}

function domainList(value: unknown, key: string, problems: string[]): string[] {
  if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string')) {
    problems.push(`networkAccess.${key}: must be a list of strings`);
    return [];
  }
  const entries = value as string[];
  if (entries.includes('none')) {
    if (entries.length > 1) problems.push(`networkAccess.${key}: "none" must stand alone`);
    return entries;
  }
  for (const entry of entries) {
    if (entry === '*') continue;
    const parsed = parseDomain(entry);
    if ('problem' in parsed) problems.push(`networkAccess.${key}: ${parsed.problem}`);
  }
  return entries;
}

function hostOf(entry: string): string | null {
  const parsed = parseDomain(entry);
  return 'problem' in parsed ? null : parsed.host;
}

/**
 * The policy on the "network" iframe that holds the plugin's UI, which the UI's `data:` document inherits (a local
 * scheme document takes its creator's policy). What Figma documents of it: a request to a domain that is not in
 * allowedDomains "is blocked" with "content-security policy (CSP) errors". So connections go to allowedDomains only;
 * the rest lets a single HTML file with inline script and styles and `data:` images run, as Figma's UI must.
 * `port` maps the manifest's port to the one a test's helper listens on: the only liberty the harness takes.
 */
export function pluginContentSecurityPolicy(manifest: FigmaManifest, port: { from: number; to: number }): string {
  const allowed = (manifest.networkAccess?.allowedDomains ?? []) as string[];
  const sources = allowed
    .filter((entry) => entry !== 'none')
    .map((entry) => entry.replace(new RegExp(`:${port.from}(?=/|$)`), `:${port.to}`));
  const connect = sources.length > 0 ? sources.join(' ') : "'none'";
  return [
    "default-src 'none'",
    "script-src 'unsafe-inline'",
    "style-src 'unsafe-inline'",
    `img-src data: blob: ${sources.join(' ')}`.trim(),
    'font-src data:',
    'frame-src data:',
    `connect-src ${connect}`,
  ].join('; ');
}
