import { join } from 'node:path';

/**
 * Running the helper as a background service that starts at logon and restarts after a crash: a systemd user unit
 * on Linux, a launchd agent on macOS, a logon scheduled task on Windows. A plan is the files to write or remove and
 * the commands to run; planning is pure, so every platform's output can be checked anywhere.
 */
export type ServicePlatform = 'linux' | 'darwin' | 'win32';
export type ServiceAction = 'install' | 'uninstall' | 'status';

export interface ServiceEnvironment {
  readonly platform: ServicePlatform;
  readonly home: string;
  /** The user's id (launchd's gui/<uid> domain). */
  readonly uid: number;
  /** %LOCALAPPDATA% on Windows. */
  readonly localAppData?: string;
  /** The Node.js executable and the CLI script the service runs. */
  readonly nodePath: string;
  readonly cliPath: string;
  /** Arguments after `serve`, e.g. ['--port', '7415']. */
  readonly serveArgs: readonly string[];
}

export interface ServiceFile {
  readonly path: string;
  readonly content: string;
  /** Task Scheduler reads its XML as UTF-16; everything else is UTF-8. */
  readonly encoding: 'utf8' | 'utf16le';
}

export interface ServicePlan {
  readonly writeFiles: ReadonlyArray<ServiceFile>;
  readonly removeFiles: readonly string[];
  /** Run in order; `ignoreFailure` for steps whose failure means "already in that state". */
  readonly commands: ReadonlyArray<{ readonly argv: readonly string[]; readonly ignoreFailure?: boolean }>;
}

export const SYSTEMD_UNIT = 'gramstyle.service';
export const LAUNCHD_LABEL = 'dev.gramstyle.helper';
export const WINDOWS_TASK = 'Gramstyle Helper';

export function planService(action: ServiceAction, env: ServiceEnvironment): ServicePlan {
  switch (env.platform) {
    case 'linux':
      return planSystemd(action, env);
    case 'darwin':
      return planLaunchd(action, env);
    case 'win32':
      return planWindowsTask(action, env);
  }
}

export function serviceFilePath(env: ServiceEnvironment): string {
  switch (env.platform) {
    case 'linux':
      return join(env.home, '.config', 'systemd', 'user', SYSTEMD_UNIT);
    case 'darwin':
      return join(env.home, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`);
    case 'win32':
      return join(env.localAppData ?? join(env.home, 'AppData', 'Local'), 'gramstyle', 'gramstyle-task.xml');
  }
}

function planSystemd(action: ServiceAction, env: ServiceEnvironment): ServicePlan {
  const unitPath = serviceFilePath(env);
  const systemctl = (...args: string[]) => ({ argv: ['systemctl', '--user', ...args] });
  if (action === 'status') return { writeFiles: [], removeFiles: [], commands: [systemctl('status', '--no-pager', SYSTEMD_UNIT)] };
  if (action === 'uninstall') {
    return {
      writeFiles: [],
      removeFiles: [unitPath],
      commands: [{ ...systemctl('disable', '--now', SYSTEMD_UNIT), ignoreFailure: true }, systemctl('daemon-reload')],
    };
  }
  const unit = [
    '[Unit]',
    'Description=Gramstyle helper: local style transfer for the Figma plugin',
    'After=network.target',
    '',
    '[Service]',
    `ExecStart=${[env.nodePath, env.cliPath, 'serve', ...env.serveArgs].map(systemdQuote).join(' ')}`,
    'Restart=on-failure',
    'RestartSec=2',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
  return {
    writeFiles: [{ path: unitPath, content: unit, encoding: 'utf8' }],
    removeFiles: [],
    // enable --now is idempotent; restart picks up a changed unit when it was already running.
    commands: [systemctl('daemon-reload'), systemctl('enable', '--now', SYSTEMD_UNIT), systemctl('restart', SYSTEMD_UNIT)],
  };
}

function planLaunchd(action: ServiceAction, env: ServiceEnvironment): ServicePlan {
  const plistPath = serviceFilePath(env);
  const domain = `gui/${env.uid}`;
  if (action === 'status') return { writeFiles: [], removeFiles: [], commands: [{ argv: ['launchctl', 'print', `${domain}/${LAUNCHD_LABEL}`] }] };
  // bootout fails when the agent is not loaded: that is the state we want anyway.
  const bootout = { argv: ['launchctl', 'bootout', `${domain}/${LAUNCHD_LABEL}`], ignoreFailure: true };
  if (action === 'uninstall') return { writeFiles: [], removeFiles: [plistPath], commands: [bootout] };
  const logPath = join(env.home, 'Library', 'Logs', 'gramstyle-helper.log');
  const programArguments = [env.nodePath, env.cliPath, 'serve', ...env.serveArgs]
    .map((arg) => `    <string>${xmlEscape(arg)}</string>`)
    .join('\n');
  const plist = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
${programArguments}
  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>StandardOutPath</key>
  <string>${xmlEscape(logPath)}</string>
  <key>StandardErrorPath</key>
  <string>${xmlEscape(logPath)}</string>
</dict>
</plist>
`;
  return {
    writeFiles: [{ path: plistPath, content: plist, encoding: 'utf8' }],
    removeFiles: [],
    commands: [bootout, { argv: ['launchctl', 'bootstrap', domain, plistPath] }],
  };
}

function planWindowsTask(action: ServiceAction, env: ServiceEnvironment): ServicePlan {
  const xmlPath = serviceFilePath(env);
  if (action === 'status') return { writeFiles: [], removeFiles: [], commands: [{ argv: ['schtasks', '/Query', '/TN', WINDOWS_TASK, '/V', '/FO', 'LIST'] }] };
  if (action === 'uninstall') {
    return {
      writeFiles: [],
      removeFiles: [xmlPath],
      commands: [
        { argv: ['schtasks', '/End', '/TN', WINDOWS_TASK], ignoreFailure: true },
        { argv: ['schtasks', '/Delete', '/TN', WINDOWS_TASK, '/F'], ignoreFailure: true },
      ],
    };
  }
  const argumentsText = [env.cliPath, 'serve', ...env.serveArgs].map(windowsQuote).join(' ');
  // Task Scheduler's XML is the only way to ask for restarts on failure; /F makes re-installing replace the task.
  const xml = `<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>Gramstyle helper: local style transfer for the Figma plugin</Description>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>999</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>${xmlEscape(env.nodePath)}</Command>
      <Arguments>${xmlEscape(argumentsText)}</Arguments>
    </Exec>
  </Actions>
</Task>
`;
  return {
    writeFiles: [{ path: xmlPath, content: xml, encoding: 'utf16le' }],
    removeFiles: [],
    commands: [
      { argv: ['schtasks', '/Create', '/TN', WINDOWS_TASK, '/XML', xmlPath, '/F'] },
      { argv: ['schtasks', '/Run', '/TN', WINDOWS_TASK] },
    ],
  };
}

function systemdQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `"${arg.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function windowsQuote(arg: string): string {
  return /^[\w@%+=:,./\\-]+$/.test(arg) ? arg : `"${arg.replace(/"/g, '\\"')}"`;
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
