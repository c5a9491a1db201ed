import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { TOKEN_KEY } from '../plugin/main/gramstyleMain.js';
import { healthSchema } from '../shared/protocol.js';
import { HelperProcess } from './support/helperProcess.js';
import {
  designerFile,
  freePort,
  PANEL_TOKEN,
  panelSuite,
  screenshotDir,
  textOf,
  unexpectedConsoleErrors,
  waitForText,
} from './support/panelTesting.js';
import type { PluginHarness } from './support/pluginHarness.js';

/**
 * The panel and the helper: how the panel hears Figma, finds the helper, pairs with it, says what is wrong when it
 * cannot reach it (a helper that is not running, a browser that refuses localhost) and when it restarted mid-job.
 * The built panel in headless Chromium inside Figma's nesting of iframes, against real helpers.
 */

const suite = panelSuite();

describe('the panel and the helper, in Chromium', () => {
  it('hears the main thread from Figma’s top window and nothing from other frames, under the manifest’s CSP', async () => {
    const { harness, panel } = await suite.openConnected({ size: 64, iterations: 4 });
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
    expect(await panel.isVisible('#selected-frames')).toBe(true);
    expect(await panel.isVisible('#selection-hint')).toBe(false);

    // The network iframe's policy lets the panel reach only what allowedDomains lists: localhost at the helper's port.
    const fetchFromPanel = (url: string) => panel.evaluate((target) => fetch(target).then((response) => `HTTP ${response.status}`, (error: unknown) => String(error)), url);
    expect(await fetchFromPanel(`http://localhost:${suite.helper.port}/v1/health`)).toBe('HTTP 200');
    expect(await fetchFromPanel(`http://127.0.0.1:${suite.helper.port}/v1/health`)).toBe('TypeError: Failed to fetch');
    expect(harness.consoleErrors.some((line) => /violates the following Content Security Policy directive: "connect-src/.test(line))).toBe(true);
  });

  /** The panel's words when no answer comes: it cannot tell a stopped helper from a blocked request, so it says both. */
  async function expectBothWaysHelp(panelHarness: PluginHarness): Promise<void> {
    const { panel } = panelHarness;
    await waitForText(panelHarness, '#helper-title', /^Can’t reach the helper$/);
    expect(await textOf(panelHarness, '#helper-detail')).toBe('It may not be running, or the browser may be keeping Figma from reaching it.');
    expect(await textOf(panelHarness, '#start-lead')).toBe('Not running? Start it in a terminal:');
    expect(await textOf(panelHarness, '#start-command')).toBe('gramstyle serve');
    expect(await panel.isVisible('#help-network')).toBe(true);
    expect(await textOf(panelHarness, '#help-network')).toBe(
      'Figma in a browser? Chrome asks before figma.com may reach apps on this computer. If that question was missed or blocked: click the icon left of the address bar, open Site settings, set Local network access to Allow, then Retry. Or use the Figma desktop app.',
    );
    expect(await panel.isVisible('#retry')).toBe(true);
    expect(await panel.isDisabled('#stylize')).toBe(true);
    expect(await textOf(panelHarness, '#run-status')).toBe('Stylize needs the helper.');
    expect(await panel.textContent('body')).not.toMatch(/not running\b(?!\?)/i);
  }

  it('says what may be wrong when nothing answers, with the command to start the helper and Retry', async () => {
    const { figma } = await designerFile({ size: 64, iterations: 4 });
    const closedPort = await freePort();
    const harness = await suite.open({ figma, helperPort: closedPort, theme: 'dark' });
    await expectBothWaysHelp(harness);
    await harness.screenshot(join(screenshotDir, 'plugin-unreachable-dark.png'));

    await harness.panel.click('#retry');
    await waitForText(harness, '#helper-title', /^Can’t reach the helper$/);
    // The browser reports the refused connections it tried; nothing else may go wrong.
    expect(unexpectedConsoleErrors(harness, [/ERR_CONNECTION_REFUSED/])).toEqual([]);
  });

  it('says the same when the browser’s Local Network Access refuses figma.com the running helper', async () => {
    const { figma } = await designerFile({ size: 64, iterations: 4 });
    const logFrom = suite.log.length;
    // Figma's page is public to Chromium here, as figma.com is: its requests to localhost need the user's permission.
    const harness = await suite.open({ figma, addressSpace: 'public' });
    await expectBothWaysHelp(harness);
    await harness.screenshot(join(screenshotDir, 'plugin-blocked-light.png'));
    expect(harness.consoleErrors.some((line) => line.includes('Permission was denied for this request to access the `loopback` address space'))).toBe(true);
    // Nothing from the panel reached the helper, which runs and answers others.
    expect(suite.log.slice(logFrom)).toEqual([]);
    expect((await fetch(`${suite.helper.url}/v1/health`)).status).toBe(200);
  });

  it('asks for the token when the helper refuses the stored one, and pairs', async () => {
    const { figma } = await designerFile({ size: 64, iterations: 4, token: 'not-the-token' });
    const harness = await suite.open({ figma });
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

    await panel.fill('#token', PANEL_TOKEN);
    await panel.press('#token', 'Enter');
    await waitForText(harness, '#helper-title', /^Helper connected$/);
    await expect.poll(() => figma.storage.get(TOKEN_KEY)).toBe(PANEL_TOKEN);
    expect(await panel.isEnabled('#stylize')).toBe(true);
    expect(unexpectedConsoleErrors(harness, [/status of 401/])).toEqual([]);
  });

  it('says the helper restarted and the job was lost when it is killed mid-job and started again, then stylizes again', async () => {
    const cli = await HelperProcess.start();
    try {
      const { figma } = await designerFile({ size: 64, iterations: 300, token: cli.token });
      const harness = await suite.open({ figma, helperPort: cli.port });
      const { panel } = harness;
      await waitForText(harness, '#helper-title', /^Helper connected$/, 90_000);
      await waitForText(harness, '#content-card .frame-name', /^Landscape$/);
      await panel.click('#stylize');
      await waitForText(harness, '#progress-label', /^Iteration [1-9]\d* of 300 · /, 90_000);
      const lostInstance = await helperInstance(cli.url);

      await cli.kill();
      await waitForText(harness, '#run-status', /^Lost contact with the helper\. Waiting for it to answer again…$/);
      await waitForText(harness, '#helper-title', /^Can’t reach the helper$/);
      expect(await panel.isVisible('#cancel')).toBe(true);

      await cli.serve(); // the same port, a new process: a new instanceId
      await waitForText(harness, '#run-error', /^The helper restarted, and the job it was running was lost\. Press Stylize to run it again\.$/, 60_000);
      expect(await helperInstance(cli.url)).not.toBe(lostInstance);
      expect(figma.notifications.at(-1)?.message).toBe('Gramstyle: The helper restarted, and the job it was running was lost. Press Stylize to run it again.');
      await waitForText(harness, '#helper-title', /^Helper connected$/, 90_000);
      expect(await panel.isVisible('#cancel')).toBe(false);

      // Stylize again, shorter this time: the new helper does the job.
      await panel.click('#advanced summary');
      await panel.fill('#iterations', '3');
      await panel.click('#stylize');
      await waitForText(harness, '#run-status', /^Inserted “Landscape × Brush strokes” beside Landscape\.$/, 90_000);
      expect(await textOf(harness, '#run-error')).toBe('');
      expect(figma.images.size).toBe(1);
    } finally {
      await cli.stop();
    }
  });
});

async function helperInstance(url: string): Promise<string> {
  return healthSchema.parse(await (await fetch(`${url}/v1/health`)).json()).instanceId;
}
