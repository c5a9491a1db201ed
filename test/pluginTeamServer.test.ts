import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TOKEN_SERVER_KEY } from '../plugin/main/gramstyleMain.js';
import { HelperConnection } from '../plugin/ui/connection.js';
import { NO_WORKER_YET } from '../plugin/ui/serverText.js';
import { HelperClient } from '../shared/helperClient.js';
import { bearer, type Health, healthSchema } from '../shared/protocol.js';
import { GramstyleCli } from './support/gramstyleCli.js';
import { designerFile, readBuiltPanel, textOf, unexpectedConsoleErrors, waitForText } from './support/panelTesting.js';
import { openPluginHarness } from './support/pluginHarness.js';
import { RedisServer } from './support/redisServer.js';
import { type LoggedProcess, startGatewayProcess } from './support/teamProcesses.js';

/**
 * The panel and a team's gateway with no worker yet: it takes jobs (they wait in its queue). The built panel in
 * Chromium inside Figma's nesting of iframes. A job whose worker dies is watched in the panel in test/team/workerRestart.ts.
 */

/** A gateway's health for a signed-in user with no worker ready: starting, as a real one says. */
function gatewayWithoutWorkers(): Health {
  return {
    name: 'gramstyle',
    version: '0.1.0',
    apiVersion: 1,
    role: 'gateway',
    instanceId: 'gateway-1',
    status: 'starting',
    weights: { status: 'locating', progress: null },
    details: {
      message: null,
      backend: null,
      device: null,
      weightsPath: null,
      queueLength: 0,
      busy: false,
      engineMemory: null,
      user: 'alice',
      workers: 0,
    },
  };
}

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
    const gateway = gatewayWithoutWorkers();
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
