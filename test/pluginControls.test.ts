import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { SETTINGS_KEY } from '../plugin/main/gramstyleMain.js';
import { strengthRow } from '../shared/strengthRow.js';
import { designerFile, panelSuite, screenshotDir, textOf, unexpectedConsoleErrors, waitForText } from './support/panelTesting.js';
import type { PluginHarness } from './support/pluginHarness.js';

/**
 * The creative controls in the panel: several styles with their weights, the colours, the brush size and the strength
 * row. The built panel in headless Chromium inside Figma's nesting of iframes, the real main thread on the fake
 * document, and a real helper on onnxruntime (the strength row's 40 iterations at 128 px take seconds there).
 */

const suite = panelSuite({ backend: 'onnxruntime' });

/** The bodies of the jobs the panel posts to the helper, as they leave the browser. */
function recordJobRequests(harness: PluginHarness): Array<Record<string, unknown>> {
  const bodies: Array<Record<string, unknown>> = [];
  harness.page.on('request', (request) => {
    if (request.method() === 'POST' && request.url().endsWith('/v1/jobs')) bodies.push(request.postDataJSON() as Record<string, unknown>);
  });
  return bodies;
}

async function longSide(base64: string): Promise<number> {
  const { width, height } = await sharp(Buffer.from(base64, 'base64')).metadata();
  return Math.max(width, height);
}

describe('the creative controls in the panel, in Chromium against a real helper', () => {
  it('blends the styles of three frames by their weights, keeps the content’s colours and takes the brush size', async () => {
    const { figma, harness, panel, style, mosaic } = await suite.openConnected({ size: 64, iterations: 3, secondStyle: true });
    await waitForText(harness, '.style-card:nth-of-type(2) .frame-name', /./);
    const cards = await panel.$$eval('.style-card', (elements) =>
      elements.map((card) => ({
        id: (card as HTMLElement).dataset.frameId,
        name: card.querySelector('.frame-name')!.textContent,
        role: card.querySelector('.role')!.textContent,
        share: card.querySelector('.weight-share')!.textContent,
        weightShown: !(card.querySelector('.weight') as HTMLElement).hidden,
      })),
    );
    // The styles in a stable order (by id), each with its weight at the middle: an equal blend.
    const styles = [style, mosaic!].sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(cards).toEqual(
      styles.map((frame, index) => ({ id: frame.id, name: frame.name, role: `Style ${index + 1}`, share: '50 %', weightShown: true })),
    );

    // Less of the mosaic: 50 and 20 are 71 % and 29 % of the blend.
    const mosaicCard = `.style-card[data-frame-id="${mosaic!.id}"]`;
    const strokesCard = `.style-card[data-frame-id="${style.id}"]`;
    await panel.fill(`${mosaicCard} .weight input`, '20');
    expect(await textOf(harness, `${mosaicCard} .weight-share`)).toBe('29 %');
    expect(await textOf(harness, `${strokesCard} .weight-share`)).toBe('71 %');
    expect(await panel.getAttribute(`${mosaicCard} .weight input`, 'aria-label')).toBe('Weight of “Mosaic” in the blend');
    await panel.selectOption('#preserve-colors', 'luminance');
    await panel.fill('#style-scale', '0.5');
    expect(await textOf(harness, '#style-scale-value')).toBe('0.50×');

    const jobs = recordJobRequests(harness);
    await panel.click('#stylize');
    await waitForText(harness, '#run-status', /^Inserted “Landscape × (Brush strokes \+ Mosaic|Mosaic \+ Brush strokes)” beside Landscape\.$/, 90_000);
    expect(jobs).toHaveLength(1);
    const job = jobs[0] as { kind: string; styles: Array<{ image: string; weight: number }>; options: Record<string, unknown> };
    expect(job.kind).toBe('stylize');
    expect(job.styles.map((entry) => entry.weight)).toEqual(styles.map((frame) => (frame === mosaic ? 20 : 50)));
    expect(job.options).toMatchObject({ preserveColors: 'luminance', styleScale: 0.5, size: 64, iterations: 3 });
    // Each style frame was exported at the brush size times the output's long side.
    expect(await Promise.all(job.styles.map((entry) => longSide(entry.image)))).toEqual([32, 32]);
    expect(figma.images.size).toBe(1);
    await expect.poll(() => figma.storage.get(SETTINGS_KEY)).toMatchObject({ preserveColors: 'luminance', styleScale: 0.5 });
    await harness.screenshot(join(screenshotDir, 'plugin-blend-light.png'));

    // A style can become the content; the weights stay with their frames.
    await panel.click(`${mosaicCard} .use-as-content`);
    await waitForText(harness, '#content-card .frame-name', /^Mosaic$/);
    expect(await panel.$$eval('.style-card .frame-name', (names) => names.map((name) => name.textContent))).toEqual(
      expect.arrayContaining(['Landscape', 'Brush strokes']),
    );
    expect(unexpectedConsoleErrors(harness)).toEqual([]);
  });

  it('previews four strengths around the current one from one job, and takes the one clicked', async () => {
    const { figma, harness, panel } = await suite.openConnected({ size: 512, iterations: 200 });
    const jobs = recordJobRequests(harness);
    await panel.click('#preview-strengths');
    expect(await textOf(harness, '#preview-strengths')).toBe('Stop previews');
    expect(await panel.isDisabled('#stylize')).toBe(true);
    await waitForText(harness, '#strength-row-status', /^Previewing… \d+ % · /, 60_000);
    await waitForText(harness, '#strength-row-status', /^Click a preview to take its strength\.$/, 180_000);

    expect(jobs.map((job) => job['kind'])).toEqual(['strength-row']);
    const slots = await panel.$$eval('#strength-row button', (buttons) =>
      buttons.map((button) => ({
        label: button.textContent,
        src: button.querySelector('img')!.getAttribute('src')?.slice(0, 22),
        width: button.querySelector('img')!.naturalWidth,
      })),
    );
    expect(slots).toEqual(strengthRow(50).map((strength) => ({ label: String(strength), src: 'data:image/png;base64,', width: 128 })));

    await panel.click('#strength-row button[data-strength="55"]');
    expect(await panel.inputValue('#strength')).toBe('55');
    expect(await textOf(harness, '#strength-value')).toBe('55');
    expect(await panel.getAttribute('#strength-row button[data-strength="55"]', 'aria-pressed')).toBe('true');
    expect(await panel.getAttribute('#strength-row button[data-strength="45"]', 'aria-pressed')).toBe('false');
    await harness.screenshot(join(screenshotDir, 'plugin-strength-row-light.png'));
    await expect.poll(() => (figma.storage.get(SETTINGS_KEY) as { strength: number }).strength).toBe(55);
    // Nothing was inserted: the row only previews.
    expect(figma.images.size).toBe(0);
    expect(await panel.isEnabled('#stylize')).toBe(true);
    // Other colours would make other pictures: the row goes rather than offer stale previews.
    await panel.selectOption('#preserve-colors', 'luminance');
    await expect.poll(() => panel.$$('#strength-row button').then((buttons) => buttons.length)).toBe(0);
    expect(unexpectedConsoleErrors(harness)).toEqual([]);
  });

  it('says what is wrong: styles that all weigh 0, too many frames', async () => {
    const { figma, harness, panel, content, style, mosaic, page } = await (async () => {
      const file = await designerFile({ size: 64, iterations: 3, secondStyle: true });
      const opened = await suite.open({ figma: file.figma });
      await waitForText(opened, '#helper-title', /^Helper connected$/);
      await waitForText(opened, '.style-card:nth-of-type(2) .frame-name', /./);
      return { ...file, harness: opened, panel: opened.panel };
    })();
    for (const input of await panel.$$('.style-card .weight input')) await input.fill('0');
    expect(await panel.isDisabled('#stylize')).toBe(true);
    expect(await textOf(harness, '#run-status')).toBe('Give at least one style a weight above 0.');
    expect(await textOf(harness, '.style-card .weight-share')).toBe('0 %');

    const extra = [1, 2].map((index) => figma.frame(`Swatch ${index}`, { x: 700 + 100 * index, y: 500, width: 80, height: 80 }, { color: '#336699' }, { parent: page }));
    figma.currentPage.selection = [content, style, mosaic!, ...extra];
    await waitForText(harness, '#selection-hint', /^5 layers are selected\. Select two to 4 frames: the content and one to 3 styles\.$/);
    expect(await panel.isDisabled('#stylize')).toBe(true);
    expect(await panel.isDisabled('#preview-strengths')).toBe(true);
  });
});
