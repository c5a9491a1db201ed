import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyServicePlan } from '../helper/service/applyServicePlan.js';
import { planService, serviceFilePath, type ServiceEnvironment, type ServicePlatform } from '../helper/service/servicePlan.js';

let home: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'gramstyle-home-'));
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

function environment(platform: ServicePlatform): ServiceEnvironment {
  return {
    platform,
    home,
    uid: 501,
    localAppData: platform === 'win32' ? join(home, 'AppData', 'Local') : undefined,
    nodePath: platform === 'win32' ? 'C:\\Program Files\\nodejs\\node.exe' : '/usr/local/bin/node',
    cliPath: platform === 'win32' ? 'C:\\Users\\ada\\gramstyle\\bin\\gramstyle.js' : '/opt/gramstyle app/bin/gramstyle.js',
    serveArgs: ['--port', '7415'],
  };
}

/** Installs for real into the temporary HOME (files only: this machine has no service manager to talk to). */
async function install(env: ServiceEnvironment): Promise<{ lines: string[]; file: string }> {
  const lines: string[] = [];
  const status = await applyServicePlan(planService('install', env), { dryRun: false, skipCommands: true, print: (line) => lines.push(line) });
  expect(status).toBe(0);
  const bytes = await readFile(serviceFilePath(env));
  const file = env.platform === 'win32' ? bytes.toString('utf16le').replace(/^\ufeff/, '') : bytes.toString('utf8');
  return { lines, file };
}

describe('background service files', () => {
  it('writes a systemd user unit that restarts the helper when it crashes', async () => {
    const env = environment('linux');
    const { file, lines } = await install(env);
    expect(serviceFilePath(env)).toBe(join(home, '.config', 'systemd', 'user', 'gramstyle.service'));
    expect(file.split('\n')).toEqual([
      '[Unit]',
      'Description=Gramstyle helper: local style transfer for the Figma plugin',
      'After=network.target',
      '',
      '[Service]',
      'ExecStart=/usr/local/bin/node "/opt/gramstyle app/bin/gramstyle.js" serve --port 7415',
      'Restart=on-failure',
      'RestartSec=2',
      '',
      '[Install]',
      'WantedBy=default.target',
      '',
    ]);
    expect(lines.filter((line) => line.startsWith('would run'))).toEqual([
      'would run: systemctl --user daemon-reload',
      'would run: systemctl --user enable --now gramstyle.service',
      'would run: systemctl --user restart gramstyle.service',
    ]);
  });

  it('writes a launchd agent kept alive after crashes', async () => {
    const env = environment('darwin');
    const { file, lines } = await install(env);
    expect(serviceFilePath(env)).toBe(join(home, 'Library', 'LaunchAgents', 'dev.gramstyle.helper.plist'));
    const log = join(home, 'Library', 'Logs', 'gramstyle-helper.log');
    expect(file.split('\n')).toEqual([
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
      '<plist version="1.0">',
      '<dict>',
      '  <key>Label</key>',
      '  <string>dev.gramstyle.helper</string>',
      '  <key>ProgramArguments</key>',
      '  <array>',
      '    <string>/usr/local/bin/node</string>',
      '    <string>/opt/gramstyle app/bin/gramstyle.js</string>',
      '    <string>serve</string>',
      '    <string>--port</string>',
      '    <string>7415</string>',
      '  </array>',
      '  <key>RunAtLoad</key>',
      '  <true/>',
      '  <key>KeepAlive</key>',
      '  <dict>',
      '    <key>SuccessfulExit</key>',
      '    <false/>',
      '  </dict>',
      '  <key>StandardOutPath</key>',
      `  <string>${log}</string>`,
      '  <key>StandardErrorPath</key>',
      `  <string>${log}</string>`,
      '</dict>',
      '</plist>',
      '',
    ]);
    expect(lines.filter((line) => line.startsWith('would run'))).toEqual([
      'would run: launchctl bootout gui/501/dev.gramstyle.helper',
      `would run: launchctl bootstrap gui/501 ${serviceFilePath(env)}`,
    ]);
  });

  it('writes a logon scheduled task for Windows, in UTF-16, restarting on failure', async () => {
    const env = environment('win32');
    const { file, lines } = await install(env);
    expect(serviceFilePath(env)).toBe(join(home, 'AppData', 'Local', 'gramstyle', 'gramstyle-task.xml'));
    const fileLines = file.split('\n');
    expect(fileLines[0]).toBe('<?xml version="1.0" encoding="UTF-16"?>');
    expect(fileLines).toContain('    <LogonTrigger>');
    expect(fileLines).toContain('    <RestartOnFailure>');
    expect(fileLines).toContain('      <Interval>PT1M</Interval>');
    expect(fileLines).toContain('    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>');
    expect(fileLines).toContain('      <Command>C:\\Program Files\\nodejs\\node.exe</Command>');
    expect(fileLines).toContain('      <Arguments>C:\\Users\\ada\\gramstyle\\bin\\gramstyle.js serve --port 7415</Arguments>');
    expect(lines.filter((line) => line.startsWith('would run'))).toEqual([
      `would run: schtasks /Create /TN Gramstyle Helper /XML ${serviceFilePath(env)} /F`,
      'would run: schtasks /Run /TN Gramstyle Helper',
    ]);
  });

  it.each<ServicePlatform>(['linux', 'darwin', 'win32'])('install and uninstall are idempotent (%s)', async (platform) => {
    const env = environment(platform);
    const first = await install(env);
    const second = await install(env);
    expect(second.file).toBe(first.file);
    for (let i = 0; i < 2; i++) {
      const status = await applyServicePlan(planService('uninstall', env), { dryRun: false, skipCommands: true, print: () => {} });
      expect(status).toBe(0);
      expect(existsSync(serviceFilePath(env))).toBe(false);
    }
  });

  it('a dry run prints the file and the commands and changes nothing', async () => {
    const env = environment('linux');
    const lines: string[] = [];
    await applyServicePlan(planService('install', env), { dryRun: true, print: (line) => lines.push(line) });
    expect(lines[0]).toBe(`would write ${serviceFilePath(env)}:`);
    expect(lines).toContain('  Restart=on-failure');
    expect(lines).toContain('would run: systemctl --user enable --now gramstyle.service');
    expect(existsSync(join(home, '.config'))).toBe(false);
  });
});
