import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';

import { SETTINGS_KEY, TOKEN_KEY, TOKEN_SERVER_KEY } from '../../plugin/main/gramstyleMain.js';
import type { BackendChoice } from '../../helper/engine/index.js';
import { renderSampleFrames } from '../../helper/samples/frames.js';
import { type RunningHelper, startHelperServer } from '../../helper/server/index.js';
import { bearer, healthSchema } from '../../shared/protocol.js';
import { FakeFigma } from './fakeFigma.js';
import { projectRoot } from './figmaManifest.js';
import { type HarnessOptions, openPluginHarness, type PluginHarness } from './pluginHarness.js';
import { realWeightsPath } from './sharedAssets.js';

/** What the panel tests share: the built panel, a real helper, a designer's document and ways to read the panel. */

export const screenshotDir = join(projectRoot, 'test-output');
export const PANEL_TOKEN = 'c0ffee'.repeat(10) + 'c0ff';

/** The built panel, as Figma gets it from manifest.json's `ui`. */
export function readBuiltPanel(): Promise<string> {
  return readFile(join(projectRoot, 'dist', 'plugin', 'ui.html'), 'utf8');
}

/** A helper in this process with the real weights (on wasm unless told), logging each request it answers into `log`. */
async function startPanelHelper(log: string[], backend: BackendChoice): Promise<RunningHelper> {
  const helper = await startHelperServer({
    host: '127.0.0.1',
    port: 0,
    token: PANEL_TOKEN,
    backend,
    weights: realWeightsPath(),
    previewIntervalMs: 0, // a preview every iteration, so that a short job still shows some
    log: (line) => log.push(line),
  });
  await helper.ready;
  return helper;
}

/**
 * A panel test file's hooks: the built panel and a helper before all its tests, each test's harness closed after it,
 * the helper at the end. `open` shows the panel in the harness, talking to that helper unless told another port.
 */
export function panelSuite(options: { backend?: BackendChoice } = {}) {
  const log: string[] = [];
  let helper: RunningHelper | null = null;
  let uiHtml = '';
  let harness: PluginHarness | null = null;
  beforeAll(async () => {
    uiHtml = await readBuiltPanel();
    helper = await startPanelHelper(log, options.backend ?? 'wasm');
  });
  afterEach(async () => {
    await harness?.close();
    harness = null;
  });
  afterAll(async () => {
    await helper?.close();
  });
  return {
    /** The helper's log: one line per request it answered. */
    log,
    get helper(): RunningHelper {
      if (!helper) throw new Error('the panel tests’ helper has not started');
      return helper;
    },
    async open(options: Omit<HarnessOptions, 'uiHtml' | 'helperPort'> & { helperPort?: number }): Promise<PluginHarness> {
      const helperPort = options.helperPort ?? this.helper.port;
      // The designer saved their token for the helper the panel talks to: here the test's port stands for 7415.
      const { storage } = options.figma;
      if (storage.has(TOKEN_KEY) && !storage.has(TOKEN_SERVER_KEY)) storage.set(TOKEN_SERVER_KEY, `http://localhost:${helperPort}`);
      harness = await openPluginHarness({ uiHtml, ...options, helperPort });
      return harness;
    },
    /** The designer's file in the panel, once it is connected to the helper and shows the selected frames. */
    async openConnected(stored: { size: number; iterations: number; secondStyle?: boolean }) {
      const file = await designerFile(stored);
      const opened = await this.open({ figma: file.figma });
      await waitForText(opened, '#helper-title', /^Helper connected$/);
      await waitForText(opened, '#content-card .frame-name', /^Landscape$/);
      return { ...file, harness: opened, panel: opened.panel };
    },
  };
}

let sampleFrames: Promise<{ content: string; style: string; mosaic: string }> | null = null;

/**
 * A document with a landscape and a brush-stroke pattern selected, and with `secondStyle` a mosaic too (the project's
 * own sample frames: the README shows these screenshots, and ../shared's pictures may not be committed), and the
 * panel's stored settings and token.
 */
export async function designerFile(stored: { size: number; iterations: number; token?: string | null; secondStyle?: boolean }) {
  sampleFrames ??= mkdir(screenshotDir, { recursive: true }).then(() => renderSampleFrames(join(screenshotDir, 'frames')));
  const pictures = await sampleFrames;
  const figma = new FakeFigma();
  const page = figma.frame('Moodboard', { x: 0, y: 0, width: 2000, height: 1200 });
  const content = figma.frame('Landscape', { x: 80, y: 120, width: 320, height: 240 }, { image: pictures.content }, { parent: page });
  const style = figma.frame('Brush strokes', { x: 80, y: 500, width: 240, height: 240 }, { image: pictures.style }, { parent: page });
  const mosaic = stored.secondStyle
    ? figma.frame('Mosaic', { x: 400, y: 500, width: 200, height: 200 }, { image: pictures.mosaic }, { parent: page })
    : null;
  await figma.clientStorage.setAsync(SETTINGS_KEY, { strength: 50, size: stored.size, iterations: stored.iterations });
  if (stored.token !== null) await figma.clientStorage.setAsync(TOKEN_KEY, stored.token ?? PANEL_TOKEN);
  figma.currentPage.selection = mosaic ? [content, style, mosaic] : [content, style];
  return { figma, page, content, style, mosaic };
}

export async function textOf(harness: PluginHarness, selector: string): Promise<string> {
  return ((await harness.panel.textContent(selector)) ?? '').trim();
}

/** Waits until the panel element's text matches. */
export async function waitForText(harness: PluginHarness, selector: string, pattern: RegExp, timeout = 30_000): Promise<void> {
  await harness.panel.waitForFunction(
    ({ selector: css, source, flags }) => new RegExp(source, flags).test(document.querySelector(css)?.textContent ?? ''),
    { selector, source: pattern.source, flags: pattern.flags },
    { timeout, polling: 50 },
  );
}

/** Console errors other than those listed (the browser's own lines for answers the panel expects). */
export function unexpectedConsoleErrors(harness: PluginHarness, expected: RegExp[] = []): string[] {
  return harness.consoleErrors.filter((line) => !expected.some((pattern) => pattern.test(line)));
}

/** Whether the helper has nothing queued or running. */
export async function helperIsIdle(helper: RunningHelper): Promise<boolean> {
  const response = await fetch(`${helper.url}/v1/health`, { headers: { Authorization: bearer(PANEL_TOKEN) } });
  const { details } = healthSchema.parse(await response.json());
  return !details!.busy && details!.queueLength === 0;
}

export { freePort } from './freePort.js';
