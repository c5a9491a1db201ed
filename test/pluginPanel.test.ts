import { mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { SETTINGS_KEY, TOKEN_KEY } from '../plugin/main/gramstyleMain.js';
import { type RunningHelper, startHelperServer } from '../helper/server/index.js';
import { bearer, healthSchema } from '../shared/protocol.js';
import { FakeFigma, FakeRectangleNode } from './support/fakeFigma.js';
import { openPluginHarness, type PluginHarness } from './support/pluginHarness.js';
import { realWeightsPath } from './support/sharedAssets.js';
import { renderSampleFrames } from '../helper/samples/frames.js';

/**
 * The built panel (dist/plugin/ui.html) in headless Chromium, inside a page that plays Figma, with the real
 * main-thread code on a fake document and a real helper running the real VGG-19 on wasm at small sizes.
 */

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const screenshotDir = join(projectRoot, 'test-output');
const TOKEN = 'c0ffee'.repeat(10) + 'c0ff';

let helper: RunningHelper;
let uiHtml: string;
let harness: PluginHarness | null = null;
/** The project's own sample frames: the README shows these screenshots, and ../shared's pictures may not be committed. */
let sampleFrames: { content: string; style: string };

beforeAll(async () => {
  uiHtml = await readFile(join(projectRoot, 'dist', 'plugin', 'ui.html'), 'utf8');
  await mkdir(screenshotDir, { recursive: true });
  sampleFrames = await renderSampleFrames(join(screenshotDir, 'frames'));
  helper = await startHelperServer({
    host: '127.0.0.1',
    port: 0,
    token: TOKEN,
    backend: 'wasm',
    weights: realWeightsPath(),
    previewIntervalMs: 0, // a preview every iteration, so that a short job still shows some
    log: () => {},
  });
  await helper.ready;
});

afterEach(async () => {
  await harness?.close();
  harness = null;
});

afterAll(async () => {
  await helper?.close();
});

/** A document with a landscape and a brush-stroke pattern selected, and the panel's stored settings and token. */
async function designerFile(stored: { size: number; iterations: number; token?: string | null }) {
  const figma = new FakeFigma();
  const page = figma.frame('Moodboard', { x: 0, y: 0, width: 2000, height: 1200 });
  const content = figma.frame('Landscape', { x: 80, y: 120, width: 320, height: 240 }, { image: sampleFrames.content }, { parent: page });
  const style = figma.frame('Brush strokes', { x: 80, y: 500, width: 240, height: 240 }, { image: sampleFrames.style }, { parent: page });
  await figma.clientStorage.setAsync(SETTINGS_KEY, { strength: 50, size: stored.size, iterations: stored.iterations });
  if (stored.token !== null) await figma.clientStorage.setAsync(TOKEN_KEY, stored.token ?? TOKEN);
  figma.currentPage.selection = [content, style];
  return { figma, page, content, style };
}

async function textOf(harnessToRead: PluginHarness, selector: string): Promise<string> {
  return ((await harnessToRead.panel.textContent(selector)) ?? '').trim();
}

/** Waits until the panel element's text matches. */
async function waitForText(panelHarness: PluginHarness, selector: string, pattern: RegExp, timeout = 30_000): Promise<void> {
  await panelHarness.panel.waitForFunction(
    ({ selector: css, source, flags }) => new RegExp(source, flags).test(document.querySelector(css)?.textContent ?? ''),
    { selector, source: pattern.source, flags: pattern.flags },
    { timeout, polling: 50 },
  );
}

/** Records every value the progress bar and the preview take, from inside the panel. */
async function recordProgress(panelHarness: PluginHarness): Promise<() => Promise<{ progress: number[]; pictures: string[] }>> {
  await panelHarness.panel.evaluate(() => {
    const record = { progress: [] as number[], pictures: [] as string[] };
    (window as unknown as { record: typeof record }).record = record;
    const bar = document.getElementById('progress-bar')!;
    const image = document.getElementById('preview-image')!;
    new MutationObserver(() => record.progress.push(Number(bar.getAttribute('aria-valuenow')))).observe(bar, {
      attributes: true,
      attributeFilter: ['aria-valuenow'],
    });
    new MutationObserver(() => record.pictures.push(image.getAttribute('src') ?? '')).observe(image, {
      attributes: true,
      attributeFilter: ['src'],
    });
  });
  return () => panelHarness.panel.evaluate(() => (window as unknown as { record: { progress: number[]; pictures: string[] } }).record);
}

/** Console errors other than those listed (the browser's own lines for answers the panel expects). */
function unexpectedConsoleErrors(panelHarness: PluginHarness, expected: RegExp[] = []): string[] {
  return panelHarness.consoleErrors.filter((line) => !expected.some((pattern) => pattern.test(line)));
}

async function helperIsIdle(): Promise<boolean> {
  const health = healthSchema.parse(
    await (await fetch(`${helper.url}/v1/health`, { headers: { Authorization: bearer(TOKEN) } })).json(),
  );
  return !health.details!.busy && health.details!.queueLength === 0;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolvePromise) => server.close(() => resolvePromise()));
  return port;
}

describe('the panel in Chromium against a real helper', () => {
  it('shows the frames, converges with progress and previews, and inserts the result', async () => {
    const { figma, page, content } = await designerFile({ size: 512, iterations: 200 });
    harness = await openPluginHarness({ uiHtml, figma, helperPort: helper.port });
    const { panel } = harness;

    await waitForText(harness, '#helper-title', /^Helper connected$/);
    expect(await textOf(harness, '#helper-detail')).toMatch(/^wasm · CPU \(WebAssembly/);
    await waitForText(harness, '#content-card .frame-name', /^Landscape$/);
    expect(await textOf(harness, '#style-card .frame-name')).toBe('Brush strokes');
    expect(await textOf(harness, '#content-card .frame-size')).toBe('320 × 240');
    const thumbnailWidths = await panel.$$eval('.thumb', (images) => images.map((image) => (image as HTMLImageElement).naturalWidth));
    expect(thumbnailWidths).toEqual([96, 96]);

    // Settings as a keyboard user would make them.
    await panel.focus('#strength');
    for (let press = 0; press < 10; press++) await harness.page.keyboard.press('ArrowRight');
    expect(await panel.inputValue('#strength')).toBe('60');
    expect(await textOf(harness, '#strength-value')).toBe('60');
    await panel.selectOption('#size-preset', 'custom');
    await panel.fill('#size-custom', '64');
    await panel.click('#advanced summary');
    await panel.fill('#iterations', '6');

    const readRecord = await recordProgress(harness);
    await panel.click('#stylize');
    await waitForText(harness, '#run-status', /^Inserted “Landscape × Brush strokes” beside Landscape\.$/, 90_000);
    const record = await readRecord();

    // The bar moved through the iterations, and previews came before the result.
    expect(record.progress.at(-1)).toBe(6);
    expect(record.progress.some((value) => value > 0 && value < 6)).toBe(true);
    expect(record.progress).toEqual([...record.progress].sort((a, b) => a - b));
    const previews = record.pictures.slice(0, -1);
    expect(previews.length).toBeGreaterThan(0);
    expect(previews.every((src) => src.startsWith('data:image/png;base64,'))).toBe(true);
    expect(await textOf(harness, '#preview-caption')).toBe('Result · 64 × 48 px');

    // The result reached the main thread as a valid PNG of the expected size and became a layer.
    expect(figma.images.size).toBe(1);
    const [image] = [...figma.images.values()];
    expect(await sharp(image!.bytes).metadata()).toMatchObject({ format: 'png', width: 64, height: 48 });
    const inserted = page.children.find((node) => node.name === 'Landscape × Brush strokes');
    expect(inserted).toBeInstanceOf(FakeRectangleNode);
    expect(inserted && { x: inserted.x, y: inserted.y, width: inserted.width, height: inserted.height }).toEqual({
      x: content.x + content.width + 40,
      y: content.y,
      width: 320,
      height: 240,
    });
    expect(figma.undoCommits).toHaveLength(1);
    expect(figma.currentPage.selection).toEqual([inserted]);
    expect(figma.storage.get(SETTINGS_KEY)).toEqual({ strength: 60, size: 64, iterations: 6 });
    // With the result selected, the panel keeps its frames: Stylize again with other settings is one click.
    await panel.waitForSelector('#stylize:not([disabled])');
    expect(await textOf(harness, '#content-card .frame-name')).toBe('Landscape');

    await harness.screenshot(join(screenshotDir, 'plugin-done-light.png'));
    await harness.setTheme('dark');
    await harness.screenshot(join(screenshotDir, 'plugin-done-dark.png'));

    // Insert again: a second copy, further right.
    await panel.click('#insert-again');
    await waitForText(harness, '#run-status', /^Inserted/);
    await expect.poll(() => page.children.filter((node) => node.name === 'Landscape × Brush strokes').length).toBe(2);
    expect(figma.images.size).toBe(1); // the same bytes, the same image hash
    expect(unexpectedConsoleErrors(harness)).toEqual([]);
  });

  it('hears the main thread from Figma’s top window and nothing from other frames, under the manifest’s CSP', async () => {
    const { figma } = await designerFile({ size: 64, iterations: 4 });
    harness = await openPluginHarness({ uiHtml, figma, helperPort: helper.port });
    const { panel } = harness;
    await waitForText(harness, '#helper-title', /^Helper connected$/);
    await waitForText(harness, '#content-card .frame-name', /^Landscape$/);
    expect(await panel.evaluate(() => ({ origin: self.origin, url: location.href.slice(0, 5), depth: [parent, parent.parent, parent.parent.parent].indexOf(top as Window) }))).toEqual({
      origin: 'null',
      url: 'data:',
      depth: 2,
    });

    // Count deliveries in the panel itself: once a message has arrived there, the bridge has had its say.
    await panel.evaluate(() => {
      const seen = { count: 0 };
      (window as unknown as { seen: typeof seen }).seen = seen;
      window.addEventListener('message', (event) => {
        if (event.data && typeof event.data === 'object' && 'pluginMessage' in event.data) seen.count++;
      });
    });
    const delivered = () => panel.evaluate(() => (window as unknown as { seen: { count: number } }).seen.count);
    const forged = { type: 'selection', selection: { state: 'hint', hint: 'Forged by another frame' } };
    await harness.postFromStranger(forged);
    await expect.poll(delivered).toBe(1);
    await panel.evaluate((message) => window.postMessage({ pluginMessage: message }, '*'), forged);
    await expect.poll(delivered).toBe(2);
    expect(await panel.isVisible('#frame-pair')).toBe(true);
    expect(await panel.isVisible('#selection-hint')).toBe(false);

    // The network iframe's policy lets the panel reach only what allowedDomains lists: localhost at the helper's port.
    const fetchFromPanel = (url: string) => panel.evaluate((target) => fetch(target).then((response) => `HTTP ${response.status}`, (error: unknown) => String(error)), url);
    expect(await fetchFromPanel(`http://localhost:${helper.port}/v1/health`)).toBe('HTTP 200');
    expect(await fetchFromPanel(`http://127.0.0.1:${helper.port}/v1/health`)).toBe('TypeError: Failed to fetch');
    expect(harness.consoleErrors.some((line) => /violates the following Content Security Policy directive: "connect-src/.test(line))).toBe(true);
  });

  it('cancels a running job', async () => {
    const { figma } = await designerFile({ size: 128, iterations: 200 });
    harness = await openPluginHarness({ uiHtml, figma, helperPort: helper.port });
    const { panel } = harness;
    await waitForText(harness, '#helper-title', /^Helper connected$/);
    await waitForText(harness, '#content-card .frame-name', /^Landscape$/);

    await panel.click('#stylize');
    expect(await panel.isVisible('#cancel')).toBe(true);
    // Far enough along to show a preview: the moment the README's screenshots show.
    await waitForText(harness, '#progress-label', /^Iteration ([3-9]|\d\d+) of 200 · about/, 90_000);
    await panel.waitForSelector('#preview:not([hidden])');
    await harness.screenshot(join(screenshotDir, 'plugin-running-light.png'));
    await harness.setTheme('dark');
    await harness.screenshot(join(screenshotDir, 'plugin-running-dark.png'));

    await panel.press('#cancel', 'Enter');
    await waitForText(harness, '#run-status', /^Canceled\.$/);
    expect(await panel.isVisible('#cancel')).toBe(false);
    expect(await panel.evaluate(() => document.activeElement?.id)).toBe('stylize');
    await expect.poll(helperIsIdle, { timeout: 15_000 }).toBe(true);
    expect(figma.images.size).toBe(0);
    expect(figma.undoCommits).toEqual([]);
    expect(unexpectedConsoleErrors(harness)).toEqual([]);
  });

  it('says when the helper is not running, with the command to start it', async () => {
    const { figma } = await designerFile({ size: 64, iterations: 4 });
    const closedPort = await freePort();
    harness = await openPluginHarness({ uiHtml, figma, helperPort: closedPort, theme: 'dark' });
    const { panel } = harness;
    await waitForText(harness, '#helper-title', /^Helper not running$/);
    expect(await textOf(harness, '#start-command')).toBe('gramstyle serve');
    expect(await panel.isVisible('#retry')).toBe(true);
    expect(await panel.isDisabled('#stylize')).toBe(true);
    expect(await textOf(harness, '#run-status')).toBe('Stylize needs the helper.');
    await harness.screenshot(join(screenshotDir, 'plugin-not-running-dark.png'));

    await panel.click('#retry');
    await waitForText(harness, '#helper-title', /^Helper not running$/);
    // The browser reports the refused connections it tried; nothing else may go wrong.
    expect(unexpectedConsoleErrors(harness, [/ERR_CONNECTION_REFUSED/])).toEqual([]);
  });

  it('asks for the token when the helper refuses the stored one, and pairs', async () => {
    const { figma } = await designerFile({ size: 64, iterations: 4, token: 'not-the-token' });
    harness = await openPluginHarness({ uiHtml, figma, helperPort: helper.port });
    const { panel } = harness;
    await waitForText(harness, '#helper-title', /^The helper refused the token$/);
    expect(await panel.isVisible('#pairing')).toBe(true);
    expect(await textOf(harness, '#pairing-help')).toBe('Run gramstyle pair in a terminal and paste the token it prints.');
    expect(await panel.isDisabled('#stylize')).toBe(true);
    expect(await textOf(harness, '#run-status')).toBe('Stylize needs the pairing token.');
    await harness.screenshot(join(screenshotDir, 'plugin-pairing-light.png'));

    await panel.fill('#token', 'still-wrong');
    await panel.press('#token', 'Enter');
    await expect.poll(() => panel.getAttribute('#token', 'aria-invalid')).toBe('true');
    expect(figma.storage.get(TOKEN_KEY)).toBe('not-the-token');

    await panel.fill('#token', TOKEN);
    await panel.press('#token', 'Enter');
    await waitForText(harness, '#helper-title', /^Helper connected$/);
    await expect.poll(() => figma.storage.get(TOKEN_KEY)).toBe(TOKEN);
    expect(await panel.isEnabled('#stylize')).toBe(true);
    expect(unexpectedConsoleErrors(harness, [/status of 401/])).toEqual([]);
  });

});
