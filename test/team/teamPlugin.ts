import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { TOKEN_KEY, TOKEN_SERVER_KEY } from '../../plugin/main/gramstyleMain.js';
import { TEAM_TOKEN_HELP } from '../../plugin/ui/serverText.js';
import type { FigmaManifest } from '../support/figmaManifest.js';
import { designerFile, screenshotDir, textOf, unexpectedConsoleErrors, waitForText } from '../support/panelTesting.js';
import { openPluginHarness } from '../support/pluginHarness.js';
import type { TeamCluster } from '../support/teamCluster.js';

/**
 * The Figma plugin an organisation builds for its team server (`gramstyle plugin build`), its panel in Chromium inside
 * Figma's nesting of iframes and under that manifest's CSP, against the team's real gateway and workers.
 */
export function describeTeamPlugin(team: TeamCluster): void {
  describe('the team plugin against the gateway', () => {
    it('its panel, in Chromium: shows its server, signs in with a personal token kept with it, and stylizes', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'gramstyle-team-plugin-'));
      const server = `http://localhost:${team.gateway.port}`;
      const built = await team.cli.run(['plugin', 'build', '--server', server, '-o', dir]);
      expect(built.code, built.stderr).toBe(0);
      const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as FigmaManifest;
      const { figma } = await designerFile({ size: 64, iterations: 6, token: null, secondStyle: true });
      const uiHtml = await readFile(join(dir, 'ui.html'), 'utf8');
      const harness = await openPluginHarness({ uiHtml, figma, helperPort: team.gateway.port, manifest });
      const { panel } = harness;
      try {
        await waitForText(harness, '#helper-title', /^Sign in to the team server$/);
        expect(await textOf(harness, '#helper-server')).toBe(`Team server · localhost:${team.gateway.port}`);
        expect(await textOf(harness, '#token-label')).toBe('Personal token');
        expect(await textOf(harness, '#pairing-help')).toBe(TEAM_TOKEN_HELP);
        expect(await textOf(harness, '#run-status')).toBe('Stylize needs your personal token.');

        await panel.fill('#token', team.tokens.alice!);
        await panel.press('#token', 'Enter');
        await waitForText(harness, '#helper-title', /^Connected to the team server$/);
        expect(await textOf(harness, '#helper-detail')).toBe('alice · 2 workers');
        await expect.poll(() => [figma.storage.get(TOKEN_SERVER_KEY), figma.storage.get(TOKEN_KEY)]).toEqual([server, team.tokens.alice]);
        await harness.screenshot(join(screenshotDir, 'plugin-team-light.png'));

        const aliceJobs = () => team.workers.flatMap((worker) => worker.log().match(/took job \S+ of alice: stylize, 2 style images weighted 50:50/g) ?? []);
        const aliceJobsBefore = aliceJobs().length;
        await panel.click('#stylize');
        // Two style frames: the job carries both images, each in the blob store, to the worker.
        await waitForText(harness, '#run-status', /^Inserted “Landscape × (Brush strokes \+ Mosaic|Mosaic \+ Brush strokes)” beside Landscape\.$/, 120_000);
        const [image] = [...figma.images.values()];
        expect(await sharp(image!.bytes).metadata()).toMatchObject({ format: 'png', width: 64, height: 48 });
        // A worker ran it, as alice's, with both style images.
        expect(aliceJobs()).toHaveLength(aliceJobsBefore + 1);
        expect(unexpectedConsoleErrors(harness)).toEqual([]);
      } finally {
        await harness.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}
