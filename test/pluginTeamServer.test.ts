import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TOKEN_SERVER_KEY } from '../plugin/main/gramstyleMain.js';
import { HelperConnection } from '../plugin/ui/connection.js';
import { RESTARTED_ON_WORKER_MESSAGE } from '../plugin/ui/run.js';
import { NO_WORKER_YET } from '../plugin/ui/serverText.js';
import { HelperClient } from '../shared/helperClient.js';
import { bearer, type Health, healthSchema } from '../shared/protocol.js';
import { GramstyleCli } from './support/gramstyleCli.js';
import { designerFile, readBuiltPanel, textOf, unexpectedConsoleErrors, waitForText } from './support/panelTesting.js';
import { openPluginHarness } from './support/pluginHarness.js';
import { RedisServer } from './support/redisServer.js';
import { gatewayHealth, jobStatus, previewAt, ScriptedGateway } from './support/scriptedGateway.js';
import { type LoggedProcess, startGatewayProcess } from './support/teamProcesses.js';

/**
 * The panel and a team's gateway: a gateway with no worker yet takes jobs (they wait in its queue), and a job whose
 * worker died starts over on another one. The built panel in Chromium inside Figma's nesting of iframes.
 */

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A connection to a server whose health is always `health`, and that takes the token. */
function connectionTo(health: Health): HelperConnection {
  const client = new HelperClient({
    async send(request) {
      const body = request.path === '/health' ? health : { paired: true };
      return { status: 200, contentType: 'application/json', body: new TextEncoder().encode(JSON.stringify(body)) };
    },
  });
  client.token = 'token';
  return new HelperConnection(client, () => undefined, () => true);
}

describe('what a server that is starting means to the panel', () => {
  it('a gateway with no worker ready takes jobs: connected; a helper loading its engine does not: starting', async () => {
    const gateway = gatewayHealth(0);
    expect(gateway.status).toBe('starting');
    expect(await connectionTo(gateway).check()).toEqual({ kind: 'connected', health: gateway });
    const helper: Health = { ...gateway, role: 'helper', details: { ...gateway.details!, user: null, workers: null } };
    expect(await connectionTo(helper).check()).toEqual({ kind: 'starting', health: helper });
  });
});

describe('the panel and a real gateway with no worker yet, in Chromium', () => {
  let redis: RedisServer | null = null;
  let gateway: { process: LoggedProcess; url: string; port: number } | null = null;
  let home = '';
  let token = '';
  let uiHtml = '';

  beforeAll(async () => {
    redis = await RedisServer.start();
    home = await mkdtemp(join(tmpdir(), 'gramstyle-panel-team-'));
    const cli = new GramstyleCli(home);
    gateway = await startGatewayProcess(cli, redis.url);
    const added = await cli.run(['users', 'add', 'alice', '--redis', redis.url]);
    expect(added.code, added.stderr).toBe(0);
    token = added.stdout.trim();
    uiHtml = await readBuiltPanel();
  });

  afterAll(async () => {
    await gateway?.process.stop();
    await redis?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('says no worker is online yet, lets Stylize queue the job, and the job waits there', async () => {
    const { port, url } = gateway!;
    const health = healthSchema.parse(await (await fetch(`${url}/v1/health`, { headers: { Authorization: bearer(token) } })).json());
    expect(health).toMatchObject({ role: 'gateway', status: 'starting', details: { workers: 0 } });

    const { figma } = await designerFile({ size: 64, iterations: 4, token });
    await figma.clientStorage.setAsync(TOKEN_SERVER_KEY, `http://localhost:${port}`);
    const harness = await openPluginHarness({ uiHtml, figma, helperPort: port });
    const { panel } = harness;
    try {
      await waitForText(harness, '#helper-title', /^Connected to the team server$/);
      expect(await textOf(harness, '#helper-detail')).toBe(`alice · ${NO_WORKER_YET}`);
      await waitForText(harness, '#content-card .frame-name', /^Landscape$/);
      expect(await panel.isDisabled('#stylize')).toBe(false);

      await panel.click('#stylize');
      await waitForText(harness, '#progress-label', /^Next in line…$/);
      const queued = healthSchema.parse(await (await fetch(`${url}/v1/health`, { headers: { Authorization: bearer(token) } })).json());
      expect(queued.details).toMatchObject({ queueLength: 1, workers: 0 });
      // The gateway's log is written in batches, at most 50 ms after a line: waited for, not read at once.
      await gateway!.process.waitFor(/job of alice queued/, 5_000);

      await panel.click('#cancel');
      await waitForText(harness, '#run-status', /^Canceled\.$/);
      await expect.poll(() => gateway!.process.log()).toMatch(/canceled while waiting/);
      expect(unexpectedConsoleErrors(harness)).toEqual([]);
    } finally {
      await harness.close();
    }
  });
});

describe('the panel and a job restarted on another worker, in Chromium', () => {
  it('says so, drops the stopped worker’s preview, and shows the new run’s previews and result', async () => {
    const gateway = await ScriptedGateway.start();
    const { figma } = await designerFile({ size: 64, iterations: 8, token: 'alices-token' });
    await figma.clientStorage.setAsync(TOKEN_SERVER_KEY, `http://localhost:${gateway.port}`);
    const harness = await openPluginHarness({ uiHtml: await readBuiltPanel(), figma, helperPort: gateway.port });
    const { panel } = harness;
    try {
      await waitForText(harness, '#helper-title', /^Connected to the team server$/);
      await waitForText(harness, '#content-card .frame-name', /^Landscape$/);
      gateway.status = jobStatus({ iteration: 5, preview: await previewAt(5, '#cc3333') });
      await panel.click('#stylize');
      await waitForText(harness, '#preview-caption', /^Preview · iteration 5 · /);
      expect(await textOf(harness, '#run-status')).toBe('');

      // Its worker died: the gateway put the job back in the queue for another worker.
      gateway.status = jobStatus({ status: 'queued', queuePosition: 1, restarts: 1 });
      await waitForText(harness, '#run-status', new RegExp(`^${escape(RESTARTED_ON_WORKER_MESSAGE)}$`));
      expect(await panel.isVisible('#preview')).toBe(false);
      expect(await textOf(harness, '#progress-label')).toBe('Next in line…');

      // The next worker runs it from the start; until it writes a preview, the gateway serves the dead worker's.
      gateway.status = jobStatus({ iteration: 1, restarts: 1, preview: await previewAt(5, '#cc3333') });
      await waitForText(harness, '#progress-label', /^Iteration 1 of 8/);
      const polled = gateway.polls().length;
      await expect.poll(() => gateway.polls().length).toBeGreaterThan(polled + 1);
      expect(await panel.isVisible('#preview')).toBe(false);
      // It asks for the latest preview, not only for one after the dead worker's iteration 5.
      expect(gateway.polls().at(-1)).toBe(`GET /v1/jobs/${ScriptedGateway.JOB_ID}`);

      gateway.status = jobStatus({ iteration: 2, restarts: 1, preview: await previewAt(2, '#33cc33') });
      await waitForText(harness, '#preview-caption', /^Preview · iteration 2 · /);
      expect(await textOf(harness, '#run-status')).toBe(RESTARTED_ON_WORKER_MESSAGE);
      await expect.poll(() => gateway.polls().at(-1)).toBe(`GET /v1/jobs/${ScriptedGateway.JOB_ID}?previewAfter=2`);

      gateway.status = jobStatus({ status: 'done', iteration: 8, restarts: 1, result: { width: 64, height: 48 } });
      await waitForText(harness, '#run-status', /^Inserted “Landscape × Brush strokes” beside Landscape\.$/);
      expect(unexpectedConsoleErrors(harness)).toEqual([]);
    } finally {
      await harness.close();
      await gateway.close();
    }
  });
});
