import { describe, expect, it } from 'vitest';

import { DEFAULT_HELPER_URL } from '../plugin/main/gramstyleMain.js';
import { manifestProblems, parseDomain, readManifest } from './support/figmaManifest.js';

/** manifest.json against the rules Figma applies when the plugin is imported (see test/support/figmaManifest.ts). */

describe('manifest.json', () => {
  it('passes Figma’s rules: domains, reasoning for localhost, document access, editors and files', () => {
    expect(manifestProblems(readManifest())).toEqual([]);
  });

  it('allows the origin the main thread gives the panel, and only that', () => {
    const manifest = readManifest();
    expect(manifest.networkAccess?.allowedDomains).toEqual([DEFAULT_HELPER_URL]);
    expect(manifest.networkAccess?.devAllowedDomains).toBeUndefined();
  });

  it('rejects what Figma rejects', () => {
    const manifest = readManifest();
    const withNetwork = (networkAccess: object) => manifestProblems({ ...manifest, networkAccess });
    expect(withNetwork({ allowedDomains: ['http://localhost:7415'], devAllowedDomains: ['http://127.0.0.1:7415'] })).toEqual([
      'networkAccess.devAllowedDomains: "http://127.0.0.1:7415" names an IP address; Figma accepts only domain names and localhost',
      'networkAccess.reasoning: required to allow localhost',
    ]);
    expect(withNetwork({ allowedDomains: ['figma.com', 'https://[::1]:7415'], reasoning: 'x' })).toEqual([
      'networkAccess.allowedDomains: "figma.com" is not a scheme followed by a domain name or localhost and an optional port',
      'networkAccess.allowedDomains: "https://[::1]:7415" is not a scheme followed by a domain name or localhost and an optional port',
    ]);
    expect(withNetwork({ allowedDomains: ['none', 'https://example.com'] })).toEqual(['networkAccess.allowedDomains: "none" must stand alone']);
    expect(manifestProblems({ ...manifest, documentAccess: undefined, editorType: ['photoshop'], main: 'dist/plugin/nothing.js' })).toEqual([
      'documentAccess: must be "dynamic-page"',
      'editorType: unknown editor "photoshop"',
      'main: dist/plugin/nothing.js does not exist (run npm run build)',
    ]);
  });

  it('reads domains as Figma documents them', () => {
    expect(parseDomain('https://my-app.cdn.com')).toEqual({ scheme: 'https', host: 'my-app.cdn.com', port: null });
    expect(parseDomain('wss://socket.io')).toEqual({ scheme: 'wss', host: 'socket.io', port: null });
    expect(parseDomain('https://*.example.com/api/')).toEqual({ scheme: 'https', host: '*.example.com', port: null });
    expect(parseDomain('http://localhost:7415')).toEqual({ scheme: 'http', host: 'localhost', port: '7415' });
    expect(parseDomain('http://10.0.0.8')).toHaveProperty('problem');
    expect(parseDomain('http://localhost:99999')).toHaveProperty('problem');
  });
});
