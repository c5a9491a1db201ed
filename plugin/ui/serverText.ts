// What the panel says of the server it talks to: this computer's helper, or a team's gateway.
import type { Health } from '../../shared/protocol.js';
import type { Connection } from './connection.js';

/** How the user starts the helper and reads its token (see the README's "Figma plugin" section). */
export const START_COMMAND = 'gramstyle serve';
export const START_NOTE = 'From a clone of Gramstyle without npm link: node bin/gramstyle.js serve';
export const PAIR_COMMAND = 'gramstyle pair';
/** Where a team server's users get their token (see the README's "Team mode"). */
export const TEAM_TOKEN_HELP = 'Ask whoever runs the team server for your personal token: gramstyle users add prints it.';

/** A team server with no worker ready: it takes jobs all the same, and keeps them queued until a worker is. */
export const NO_WORKER_YET = 'no worker online yet: jobs wait in the queue';

/** The server the panel talks to, as the view shows it. */
export interface ServerShown {
  /** Host and port, e.g. style.example.com or localhost:7415. */
  readonly host: string;
  /** A team's gateway (personal tokens, no helper to start here) rather than this computer's helper. */
  readonly team: boolean;
}

/** A team's gateway when it said so; before it answered, any server but this computer's localhost. */
export function serverOf(url: string, role: Health['role'] | null): ServerShown {
  const { host, hostname } = new URL(url);
  return { host, team: role === null ? hostname !== 'localhost' : role === 'gateway' };
}

/**
 * The other reason the helper may not answer: Chrome's Local Network Access asks the user before a public site
 * (figma.com) may reach this computer, and until it is allowed the panel's requests fail just like a closed port.
 */
export const NETWORK_HELP =
  'Chrome asks before figma.com may reach apps on this computer. If that question was missed or blocked: click the icon left of the address bar, open Site settings, set Local network access to Allow, then Retry. Or use the Figma desktop app.';

/** The title and detail of the server's state. */
export function describeConnection(connection: Connection, server: ServerShown | null): { title: string; detail: string | null } {
  return server?.team ? describeTeamConnection(connection, server.host) : describeHelperConnection(connection);
}

function describeHelperConnection(connection: Connection): { title: string; detail: string | null } {
  switch (connection.kind) {
    case 'checking':
      return { title: 'Looking for the Gramstyle helper…', detail: null };
    case 'connected': {
      const { backend, device } = connection.health.details ?? { backend: null, device: null };
      return { title: 'Helper connected', detail: [backend, device].filter(Boolean).join(' · ') || null };
    }
    case 'starting': {
      const { weights } = connection.health;
      const percent = weights.progress === null ? '' : ` · ${Math.round(weights.progress * 100)} %`;
      return {
        title: 'Helper starting…',
        detail: weights.status === 'downloading' ? `Downloading the VGG-19 weights${percent}` : 'Loading the network',
      };
    }
    case 'unreachable':
      // fetch fails the same way for a closed port and for a request the browser refused: say both.
      return { title: 'Can’t reach the helper', detail: 'It may not be running, or the browser may be keeping Figma from reaching it.' };
    case 'needs-pairing':
      return connection.refused
        ? { title: 'The helper refused the token', detail: 'The saved token is not this helper’s.' }
        : { title: 'Pair with the helper', detail: null };
    case 'broken':
      return { title: 'Helper error', detail: connection.message };
  }
}

function describeTeamConnection(connection: Connection, host: string): { title: string; detail: string | null } {
  switch (connection.kind) {
    case 'checking':
      return { title: 'Looking for the team server…', detail: null };
    case 'connected': {
      const { user, workers } = connection.health.details ?? { user: null, workers: null };
      const taking = workers === null ? null : workers === 0 ? NO_WORKER_YET : `${workers} worker${workers === 1 ? '' : 's'}`;
      return { title: 'Connected to the team server', detail: [user, taking].filter(Boolean).join(' · ') || null };
    }
    case 'unreachable':
      return { title: 'Can’t reach the team server', detail: `${host} did not answer. Check your network (or VPN), or ask whoever runs it.` };
    case 'needs-pairing':
      return connection.refused
        ? { title: 'The team server refused the token', detail: 'It was revoked, or it is not a token of this server.' }
        : { title: 'Sign in to the team server', detail: null };
    default:
      return describeHelperConnection(connection);
  }
}
