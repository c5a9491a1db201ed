import type { Health } from '../../shared/protocol.js';
import { messageOf } from './format.js';
import { type HelperClient, HelperUnreachableError } from '../../shared/helperClient.js';

/** What the panel knows of the helper. */
export type Connection =
  | { kind: 'checking' }
  | { kind: 'connected'; health: Health }
  | { kind: 'starting'; health: Health }
  /** No answer: the helper may not run, or the browser may keep the panel from reaching it (fetch cannot tell). */
  | { kind: 'unreachable' }
  | { kind: 'needs-pairing'; refused: boolean }
  | { kind: 'broken'; message: string };

const STARTING_POLL_MS = 1000;
const RECONNECT_POLL_MS = 3000;
const CONNECTED_POLL_MS = 10_000;

/**
 * The panel's link to one helper: whether it answers, is ready and takes the token, asked again now and then (often
 * while it starts or cannot be reached). A run that loses the helper waits here until it answers again.
 */
export class HelperConnection {
  state: Connection = { kind: 'checking' };
  /** What the server said it is, once it answered: a person's own helper or a team's gateway. */
  role: Health['role'] | null = null;
  private serial = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Runs waiting for the helper to answer again. */
  private readonly waiting = new Set<(health: Health) => void>();

  constructor(
    readonly client: HelperClient,
    private readonly onChange: () => void,
    /** While true the periodic check waits: a running job reports trouble itself. */
    private readonly paused: () => boolean,
  ) {}

  /** The helper's latest health, when it answered. */
  get health(): Health | null {
    return 'health' in this.state ? this.state.health : null;
  }

  /** Asks the helper how it is and whether it takes the token; keeps asking while it is not usable yet. */
  async check(): Promise<Connection> {
    clearTimeout(this.timer);
    const serial = ++this.serial;
    // Once paired, the periodic checks read only the health: a token revoked later shows up as a 401 on the next job.
    const verifyToken = this.state.kind !== 'connected';
    let next: Connection;
    let health: Health | null = null;
    try {
      health = await this.client.health();
      this.role = health.role;
      next = await this.judge(health, verifyToken);
    } catch (error) {
      next = error instanceof HelperUnreachableError ? { kind: 'unreachable' } : { kind: 'broken', message: messageOf(error) };
    }
    if (serial === this.serial) {
      this.state = next;
      this.onChange();
      const delay = recheckDelay(next);
      if (delay !== null) this.schedule(delay);
    }
    // Runs that lost the helper learn it is back once the panel shows it.
    if (health) {
      for (const resolve of this.waiting) resolve(health);
      this.waiting.clear();
    }
    return next;
  }

  /** The user asked to try again now. */
  retry(): void {
    this.state = { kind: 'checking' };
    this.onChange();
    void this.check();
  }

  /** Tries a token the user gave; the outcome says whether the helper took it. */
  pair(token: string): Promise<Connection> {
    this.client.token = token;
    return this.check();
  }

  /** A request did not reach the helper: say so, keep asking, and resolve with its health once it answers again. */
  lost(): Promise<Health> {
    this.state = { kind: 'unreachable' };
    this.onChange();
    const back = new Promise<Health>((resolve) => this.waiting.add(resolve));
    this.schedule(RECONNECT_POLL_MS);
    return back;
  }

  /** The helper refused the token on a request. */
  refused(): void {
    this.state = { kind: 'needs-pairing', refused: true };
    this.onChange();
  }

  /**
   * A helper that is starting cannot take a job yet. A gateway that is starting has no worker ready yet, but takes
   * jobs all the same: they wait in its queue until a worker comes online.
   */
  private async judge(health: Health, verifyToken: boolean): Promise<Connection> {
    if (health.status === 'error') {
      return { kind: 'broken', message: health.details?.message ?? 'The helper could not start its engine.' };
    }
    const { token } = this.client;
    if (!token) return { kind: 'needs-pairing', refused: false };
    if (verifyToken && !(await this.client.tokenAccepted(token))) return { kind: 'needs-pairing', refused: true };
    return health.status === 'starting' && health.role !== 'gateway' ? { kind: 'starting', health } : { kind: 'connected', health };
  }

  private schedule(delay: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.paused()) this.schedule(delay);
      else void this.check();
    }, delay);
  }
}

/** How soon to ask the helper again: often while it starts or cannot be reached, now and then once connected. */
function recheckDelay(connection: Connection): number | null {
  switch (connection.kind) {
    case 'starting':
      return STARTING_POLL_MS;
    case 'unreachable':
    case 'broken':
      return RECONNECT_POLL_MS;
    case 'connected':
      return CONNECTED_POLL_MS;
    default:
      return null; // checking is under way; pairing waits for the user
  }
}
