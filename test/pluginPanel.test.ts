import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { SETTINGS_KEY } from '../plugin/main/gramstyleMain.js';
import { FakeRectangleNode } from './support/fakeFigma.js';
import {
  designerFile,
  helperIsIdle,
  panelSuite,
  screenshotDir,
  textOf,
  unexpectedConsoleErrors,
  waitForText,
} from './support/panelTesting.js';
import type { PluginHarness } from './support/pluginHarness.js';

/**
 * A run from the panel: the built panel (dist/plugin/ui.html) in headless Chromium, inside Figma's nesting of iframes
 * (support/pluginHarness.ts), with the real main-thread code on a fake document and a real helper running the real
 * VGG-19 on wasm at small sizes. The helper's side of the panel is in pluginPanelHelper.test.ts.
 */

const suite = panelSuite();

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

describe('a run from the panel, in Chromium against a real helper', () => {
  it('shows the frames, converges with progress and previews, and inserts the result', async () => {
    const { figma, page, content } = await designerFile({ size: 512, iterations: 200 });
    const harness = await suite.open({ figma });
    const { panel } = harness;

    await waitForText(harness, '#helper-title', /^Helper connected$/);
    expect(await textOf(harness, '#helper-detail')).toMatch(/^wasm · CPU \(WebAssembly/);
    await waitForText(harness, '#content-card .frame-name', /^Landscape$/);
    expect(await textOf(harness, '.style-card .frame-name')).toBe('Brush strokes');
    // One style: no weight to set.
    expect(await panel.isVisible('.style-card .weight')).toBe(false);
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
    const logFrom = suite.log.length;
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
    // Each poll names the preview the panel has, so that the helper need not send it again.
    const previewAfter = suite.log.slice(logFrom).flatMap((line) => /^GET \/v1\/jobs\/[\w-]+\?previewAfter=(\d+) /.exec(line)?.[1] ?? []).map(Number);
    expect(previewAfter.length).toBeGreaterThan(0);
    expect(previewAfter).toEqual([...previewAfter].sort((a, b) => a - b));

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
    expect(figma.storage.get(SETTINGS_KEY)).toEqual({ strength: 60, size: 64, iterations: 6, preserveColors: 'off', styleScale: 1 });
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

  it('cancels a running job', async () => {
    const { figma, harness, panel } = await suite.openConnected({ size: 128, iterations: 200 });

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
    await expect.poll(() => helperIsIdle(suite.helper), { timeout: 15_000 }).toBe(true);
    expect(figma.images.size).toBe(0);
    expect(figma.undoCommits).toEqual([]);
    expect(unexpectedConsoleErrors(harness)).toEqual([]);
  });

  it('ends the run with an error when the main thread answers a request with the wrong reply', async () => {
    const { figma, harness, panel } = await suite.openConnected({ size: 64, iterations: 4 });
    harness.rewriteToPanel((message) => {
      const posted = message as { type: string; requestId?: number };
      return posted.type === 'exported' ? { type: 'inserted', requestId: posted.requestId, nodeId: '1:1', name: 'Not a result' } : message;
    });
    await panel.click('#stylize');
    await waitForText(harness, '#run-error', /^The plugin’s main thread answered its export request with inserted\.$/);
    expect(await panel.isEnabled('#stylize')).toBe(true);
    expect(await panel.evaluate(() => document.activeElement?.id)).toBe('stylize');
    expect(figma.notifications.at(-1)).toEqual({ message: 'Gramstyle: The plugin’s main thread answered its export request with inserted.', error: true });
    expect(await helperIsIdle(suite.helper)).toBe(true);
  });
});
