import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Frame, type Page } from 'playwright-core';

import { GramstyleMain } from '../../plugin/main/gramstyleMain.js';
import { DEFAULT_HELPER_PORT } from '../../shared/protocol.js';
import type { FakeFigma } from './fakeFigma.js';
import { type FigmaManifest, pluginContentSecurityPolicy, readManifest } from './figmaManifest.js';

export type Theme = 'light' | 'dark';

/** Figma's theme variables (a subset of what showUI's themeColors injects), light and dark. */
const FIGMA_THEME_VARIABLES: Record<Theme, Record<string, string>> = {
  light: {
    bg: '#ffffff',
    'bg-secondary': '#f5f5f5',
    'bg-tertiary': '#e6e6e6',
    'bg-hover': '#f5f5f5',
    'bg-brand': '#0d99ff',
    'bg-brand-hover': '#007be5',
    'bg-disabled': '#d9d9d9',
    'bg-success': '#14ae5c',
    'bg-warning': '#ffcd29',
    'bg-danger': '#f24822',
    text: 'rgba(0, 0, 0, 0.9)',
    'text-secondary': 'rgba(0, 0, 0, 0.5)',
    'text-onbrand': '#ffffff',
    'text-disabled': 'rgba(0, 0, 0, 0.3)',
    'text-danger': '#dc3412',
    border: '#e6e6e6',
    'border-strong': '#2c2c2c',
    'border-selected': '#0d99ff',
    icon: 'rgba(0, 0, 0, 0.9)',
  },
  dark: {
    bg: '#2c2c2c',
    'bg-secondary': '#383838',
    'bg-tertiary': '#444444',
    'bg-hover': '#383838',
    'bg-brand': '#0c8ce9',
    'bg-brand-hover': '#0a6dc2',
    'bg-disabled': '#757575',
    'bg-success': '#198f51',
    'bg-warning': '#f7d15f',
    'bg-danger': '#e03e1a',
    text: '#ffffff',
    'text-secondary': 'rgba(255, 255, 255, 0.7)',
    'text-onbrand': '#ffffff',
    'text-disabled': 'rgba(255, 255, 255, 0.4)',
    'text-danger': '#fca397',
    border: '#444444',
    'border-strong': '#ffffff',
    'border-selected': '#0c8ce9',
    icon: '#ffffff',
  },
};

function themeCss(theme: Theme): string {
  const lines = Object.entries(FIGMA_THEME_VARIABLES[theme]).map(([name, value]) => `--figma-color-${name}: ${value};`);
  return `:root { ${lines.join(' ')} }`;
}

/** What Figma does to the panel's HTML with themeColors: a class on <html> and a style element of variables. */
function applyTheme(html: string, theme: Theme): string {
  return html
    .replace(/<html([^>]*)>/, `<html$1 class="figma-${theme}">`)
    .replace(/<head>/, `<head><style id="figma-style">${themeCss(theme)}</style>`);
}

// Uint8Arrays cross the Node ⇄ page boundary as base64 (Figma's own channel is structured clone).
type Encoded = unknown;
function encodeBytes(value: unknown): Encoded {
  if (value instanceof Uint8Array) return { __bytes: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(encodeBytes);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, encodeBytes(item)]));
  }
  return value;
}
function decodeBytes(value: Encoded): unknown {
  if (value && typeof value === 'object' && '__bytes' in value && typeof value.__bytes === 'string') {
    return new Uint8Array(Buffer.from(value.__bytes, 'base64'));
  }
  if (Array.isArray(value)) return value.map(decodeBytes);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, decodeBytes(item)]));
  }
  return value;
}

/**
 * Figma's window (the top page): it relays the panel's messages to the main thread and posts the main thread's
 * messages to the panel itself, three frames down, as Figma does. It hands the network iframe the panel's HTML.
 */
function topPage(width: number, height: number): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Gramstyle plugin harness</title>
<style>
  body { margin: 0; padding: 24px; background: #e5e5e5; font: 11px Inter, sans-serif; }
  .window { display: inline-block; border-radius: 13px; overflow: hidden; box-shadow: 0 2px 14px rgba(0,0,0,.25); background: #fff; }
  .title { height: 40px; display: flex; align-items: center; padding: 0 16px; font-weight: 600; border-bottom: 1px solid #e6e6e6; }
  #plugin-iframe { display: block; border: 0; width: ${width}px; height: ${height}px; }
</style></head>
<body>
  <div class="window"><div class="title">Gramstyle</div>
  <iframe id="plugin-iframe" src="/plugin-iframe" title="Gramstyle"></iframe></div>
<script>
  const outer = document.getElementById('plugin-iframe');
  const panelWindow = () => outer.contentWindow.frames[0].frames[0];
  const toBase64 = (bytes) => { let s = ''; for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000)); return btoa(s); };
  const encode = (v) => v instanceof Uint8Array ? { __bytes: toBase64(v) } : Array.isArray(v) ? v.map(encode)
    : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)])) : v;
  const decode = (v) => v && typeof v === 'object' && typeof v.__bytes === 'string' ? Uint8Array.from(atob(v.__bytes), (c) => c.charCodeAt(0))
    : Array.isArray(v) ? v.map(decode) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)])) : v;
  window.addEventListener('message', (event) => {
    if (event.source !== outer.contentWindow || !event.data) return;
    // The network iframe asks for the panel's HTML once it is ready to write it into the inner iframe.
    if (event.data.harness === 'network-ready') {
      fetch('/plugin-ui.html').then((response) => response.text()).then((html) => outer.contentWindow.frames[0].postMessage({ harness: 'ui-html', html }, '*'));
    } else if ('pluginMessage' in event.data) {
      // The panel's parent.postMessage({pluginMessage}, '*'), relayed up: Figma hands pluginMessage to figma.ui.onmessage.
      window.gramstyleToMain(encode(event.data.pluginMessage));
    }
  });
  // figma.ui.postMessage(m) reaches the panel from this window as a message event whose data is {pluginMessage: m, pluginId}.
  window.gramstyleToUi = (encoded) => panelWindow().postMessage({ pluginMessage: decode(encoded), pluginId: 'harness' }, '*');
  // A frame that is not Figma's: another iframe of the page, posting to the panel as the main thread would.
  window.gramstyleStranger = (encoded) => {
    const stranger = document.createElement('iframe');
    stranger.src = 'data:text/html,' + encodeURIComponent('<script>onmessage = (e) => parent.frames[0].frames[0].frames[0].postMessage(e.data, "*")<' + '/script>');
    stranger.onload = () => stranger.contentWindow.postMessage({ pluginMessage: decode(encoded), pluginId: 'harness' }, '*');
    stranger.hidden = true;
    document.body.append(stranger);
  };
</script></body></html>`;
}

/** Figma's outer plugin iframe: it holds the network iframe and passes the panel's messages up. */
const OUTER_FRAME = `<!doctype html>
<html><head><meta charset="utf-8"><style>html, body, iframe { margin: 0; border: 0; width: 100%; height: 100%; display: block; }</style></head>
<body><iframe src="/network-iframe" title="Gramstyle"></iframe>
<script>
  const network = document.querySelector('iframe');
  window.addEventListener('message', (event) => { if (event.source === network.contentWindow) parent.postMessage(event.data, '*'); });
</script></body></html>`;

/**
 * The network iframe: served with the CSP built from allowedDomains. It makes the inner iframe from a data: URL
 * (origin null, and the CSP carries over to it) and writes the panel's HTML in.
 */
const NETWORK_FRAME = `<!doctype html>
<html><head><meta charset="utf-8"><style>html, body, iframe { margin: 0; border: 0; width: 100%; height: 100%; display: block; }</style></head>
<body><script>
  const inner = document.createElement('iframe');
  inner.title = 'Gramstyle';
  window.addEventListener('message', (event) => {
    if (event.source === inner.contentWindow) {
      parent.postMessage(event.data, '*');
    } else if (event.source === top && event.data && event.data.harness === 'ui-html') {
      inner.addEventListener('load', () => inner.contentWindow.postMessage(event.data.html, '*'), { once: true });
      inner.src = 'data:text/html,' + encodeURIComponent('<!doctype html><script>onmessage = (e) => { document.open(); document.write(e.data); document.close(); }<' + '/script>');
      document.body.append(inner);
    }
  });
  parent.postMessage({ harness: 'network-ready' }, '*');
</script></body></html>`;

export interface PluginHarness {
  readonly page: Page;
  /** The panel's frame: ui.html written into the innermost iframe. */
  readonly panel: Frame;
  readonly main: GramstyleMain;
  /** Errors the page logged or threw: a test can assert there were none. */
  readonly consoleErrors: string[];
  /** Posts a message to the panel from a frame that is not Figma's (it must be ignored). */
  postFromStranger(message: unknown): Promise<void>;
  /** Changes what the main thread posts before the panel gets it (null: deliver as posted), to play a faulty host. */
  rewriteToPanel(rewrite: ((message: unknown) => unknown) | null): void;
  setTheme(theme: Theme): Promise<void>;
  screenshot(path: string): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly uiHtml: string;
  readonly figma: FakeFigma;
  /** The port the helper listens on (or where none does); the panel calls http://localhost:<port>. */
  readonly helperPort: number;
  /** The manifest whose allowedDomains make the panel's CSP: the project's unless given (a team build's). */
  readonly manifest?: FigmaManifest;
  readonly theme?: Theme;
  /**
   * The address space Chromium gives Figma's page: loopback (it is served from 127.0.0.1), or public, as for
   * figma.com, so that Local Network Access applies to the panel's requests to localhost. Headless Chromium answers
   * the permission request with a refusal, as a user who dismissed the prompt.
   */
  readonly addressSpace?: 'loopback' | 'public';
}

/**
 * Plays Figma around the built panel, with Figma's nesting: the top window (Figma's page) → the outer plugin iframe →
 * the network iframe, whose Content-Security-Policy comes from manifest.json's allowedDomains → the inner iframe, a
 * data: URL (origin null) into which ui.html is written. The main thread is the real GramstyleMain, running here in
 * Node on a FakeFigma; its messages reach the panel from the top window, the panel's from parent.postMessage.
 */
export async function openPluginHarness(options: HarnessOptions): Promise<PluginHarness> {
  const { figma } = options;
  const main = new GramstyleMain(figma.api, { html: options.uiHtml, helperUrl: `http://localhost:${options.helperPort}` });
  main.start();
  const width = Number(figma.ui.options?.width ?? 320);
  const height = Number(figma.ui.options?.height ?? 600);
  let theme: Theme = options.theme ?? 'light';
  const policy = pluginContentSecurityPolicy(options.manifest ?? readManifest(), { from: DEFAULT_HELPER_PORT, to: options.helperPort });

  const html = (response: ServerResponse, body: string, headers: Record<string, string> = {}) =>
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', ...headers }).end(body);
  const server: Server = createServer((request, response) => {
    if (request.url === '/') html(response, topPage(width, height));
    else if (request.url === '/plugin-iframe') html(response, OUTER_FRAME);
    else if (request.url === '/network-iframe') html(response, NETWORK_FRAME, { 'Content-Security-Policy': policy });
    else if (request.url === '/plugin-ui.html') html(response, applyTheme(figma.ui.html ?? '', theme));
    // Chromium asks every page for one; a 404 would show up among the console errors.
    else if (request.url === '/favicon.ico') response.writeHead(204).end();
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const harnessPort = (server.address() as AddressInfo).port;

  const userDataDir = await mkdtemp(join(tmpdir(), 'gramstyle-chromium-'));
  let context: BrowserContext | null = null;
  try {
    const args = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
    if (options.addressSpace === 'public') args.push(`--ip-address-space-overrides=127.0.0.1:${harnessPort}=public`);
    // launch() refuses a --user-data-dir argument; a persistent context takes it as a parameter instead.
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args,
      viewport: { width: width + 48, height: height + 40 + 48 },
      deviceScaleFactor: 2,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const consoleErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));

    // Main thread → panel, in order.
    let delivery = Promise.resolve();
    let rewrite: ((message: unknown) => unknown) | null = null;
    const unsubscribe = figma.ui.subscribe((message) => {
      const encoded = encodeBytes(rewrite ? rewrite(message) : message);
      delivery = delivery
        .then(() => page.evaluate((payload) => (window as unknown as { gramstyleToUi(m: unknown): void }).gramstyleToUi(payload), encoded))
        .catch((error: unknown) => {
          if (!page.isClosed()) consoleErrors.push(`harness could not deliver a message: ${String(error)}`);
        });
    });
    // Panel → main thread.
    await page.exposeFunction('gramstyleToMain', async (encoded: Encoded) => {
      await figma.ui.fromPanel(decodeBytes(encoded));
    });
    await page.goto(`http://127.0.0.1:${harnessPort}/`);
    const panel = await waitForPanelFrame(page);

    return {
      page,
      panel,
      main,
      consoleErrors,
      async postFromStranger(message) {
        await page.evaluate((payload) => (window as unknown as { gramstyleStranger(m: unknown): void }).gramstyleStranger(payload), encodeBytes(message));
      },
      rewriteToPanel(next) {
        rewrite = next;
      },
      async setTheme(next) {
        theme = next;
        // As Figma does when the user switches theme: the class and the variables change in place.
        await panel.evaluate(
          ({ name, css }) => {
            document.documentElement.className = `figma-${name}`;
            const style = document.getElementById('figma-style');
            if (style) style.textContent = css;
          },
          { name: next, css: themeCss(next) },
        );
      },
      async screenshot(path) {
        await page.locator('#plugin-iframe').screenshot({ path, animations: 'disabled' });
      },
      async close() {
        unsubscribe();
        await context?.close();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await rm(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await context?.close();
    server.close();
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
}

/** The innermost frame once the panel's HTML is written into it. */
async function waitForPanelFrame(page: Page): Promise<Frame> {
  for (let attempt = 0; attempt < 400; attempt++) {
    for (const frame of page.frames()) {
      if (frame.parentFrame()?.parentFrame()?.parentFrame() === page.mainFrame() && (await frame.$('#stylize').catch(() => null))) return frame;
    }
    await page.waitForTimeout(25);
  }
  throw new Error('the panel never loaded into the innermost iframe');
}
