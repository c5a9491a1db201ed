import type { Socket } from 'node:net';

export interface PollPacingOptions {
  /** A connection gets at most one answer about a job per interval, unless the job's phase changes meanwhile. */
  readonly jobStatusIntervalMs: number;
  /** …and one answer of health, unless the engine's phase changes (a panel asks it every 10 s once connected). */
  readonly healthIntervalMs: number;
  /**
   * Answers a second to all paced polls together: when many connections poll, each one's interval grows so that
   * together they get about this many (one panel is far below it; fifty careless clients are not).
   */
  readonly answersPerSecond: number;
  /** How often held polls are looked at: they are answered together, on these ticks. */
  readonly tickMs: number;
}

/** A poll's phase: answers in the same phase differ only in detail (progress); a change of phase is news. */
export type PollPhase = string;

/** The two polls paced, each with its own interval. */
export type PollKind = 'health' | 'job status';

/** What a connection may still ask of one thing at once, and the phase of the last answer it got. */
interface Allowance {
  /** Answers it may have at once: up to BURST, one more per interval, one less per answer. */
  answers: number;
  /** When `answers` was counted. */
  at: number;
  phase: PollPhase | undefined;
}

interface HeldPoll {
  readonly socket: Socket;
  readonly due: number;
  readonly phase: PollPhase;
  /** The phase now, or undefined when the thing polled is gone (that is news too). */
  readonly currentPhase: () => Promise<PollPhase | undefined>;
  readonly release: (at: number) => void;
}

/**
 * A connection may have this many answers of the same thing at once (a panel that checks health again when the
 * user pastes a token is answered at once); beyond them, one per interval.
 */
const BURST = 3;
/** Polls of other things than the last few a connection asked for are not held (each connection keeps this many). */
const KEYS_PER_CONNECTION = 8;
/** A connection's poll of a thing counts towards the shared budget for this long after it was last asked. */
const ACTIVE_MS = 10_000;

/**
 * Paces repeated polls per connection, the way a long poll does. The helper's engine runs on the same few cores as
 * the clients that poll it, and each answer wakes both (a client at 20 Hz, fifty of them, slowed a job by 40%
 * though an answer costs the helper 0.1 ms). So beyond a few answers at once, a connection that asks again for the
 * same thing gets one answer per interval, or earlier when the answer's phase changes (a job starts, ends, fails,
 * shows its first preview; the engine gets ready, its weights download on): it learns of every change of phase at
 * once and of progress once per interval, and a client that polls faster only waits longer for each answer. The
 * connections share a budget of answers a second: with many of them, each one's interval grows. Held polls are
 * answered together on ticks, so that the helper and its clients wake a few times a second rather than once per
 * answer.
 */
export class PollPacer {
  private readonly allowances = new WeakMap<Socket, Map<string, Allowance>>();
  private readonly held = new Set<HeldPoll>();
  /** Each connection's poll of a thing asked within ACTIVE_MS, with when: those that share the budget. */
  private readonly active = new Map<Allowance, number>();
  private ticker: NodeJS.Timeout | undefined;
  private ticking = false;

  constructor(private readonly options: PollPacingOptions) {}

  /**
   * Resolves when the poll of `key` on `socket` may be answered: at once (false) while the connection's allowance
   * lasts or when `phaseNow` is news to it, else (true) at the tick after its next answer is due or its phase
   * changed. `currentPhase` is asked on each tick while the poll waits.
   */
  turn(
    socket: Socket,
    kind: PollKind,
    key: string,
    phaseNow: PollPhase,
    currentPhase: () => Promise<PollPhase | undefined>,
  ): Promise<boolean> {
    const now = performance.now();
    const ownIntervalMs = kind === 'health' ? this.options.healthIntervalMs : this.options.jobStatusIntervalMs;
    const intervalMs = Math.max(ownIntervalMs, (this.activePolls(now) * 1000) / this.options.answersPerSecond);
    const allowance = this.allowanceOf(socket, key);
    this.active.delete(allowance); // set again, last: the map is kept in the order of last use
    this.active.set(allowance, now);
    allowance.answers = Math.min(BURST, allowance.answers + (now - allowance.at) / intervalMs);
    allowance.at = now;
    if (allowance.answers >= 1 || allowance.phase !== phaseNow) {
      allowance.answers = Math.max(0, allowance.answers - 1);
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const release = (at: number) => {
        // Its turn used what had come since; the next interval counts from this tick, so its turns stay on ticks.
        allowance.answers = 0;
        allowance.at = at;
        resolve(true);
      };
      this.held.add({ socket, due: now + (1 - allowance.answers) * intervalMs, phase: phaseNow, currentPhase, release });
      this.ticker ??= setInterval(() => void this.tick(), this.options.tickMs).unref();
    });
  }

  /** How many connections' polls of a thing were asked within ACTIVE_MS (forgetting older ones). */
  private activePolls(now: number): number {
    for (const [allowance, at] of this.active) {
      if (now - at < ACTIVE_MS) break; // the map is in the order of last use
      this.active.delete(allowance);
    }
    return this.active.size;
  }

  /** Notes the phase of the answer `socket` got to `key`: a change from it is news to that connection. */
  answered(socket: Socket, key: string, phase: PollPhase): void {
    this.allowanceOf(socket, key).phase = phase;
  }

  private allowanceOf(socket: Socket, key: string): Allowance {
    let allowances = this.allowances.get(socket);
    if (allowances === undefined) this.allowances.set(socket, (allowances = new Map()));
    let allowance = allowances.get(key);
    if (allowance === undefined) {
      allowance = { answers: BURST, at: performance.now(), phase: undefined };
      allowances.set(key, allowance);
      if (allowances.size > KEYS_PER_CONNECTION) allowances.delete(allowances.keys().next().value!); // the oldest
    }
    return allowance;
  }

  private async tick(): Promise<void> {
    if (this.ticking) return; // the last tick's phase lookups have not all come back
    this.ticking = true;
    try {
      const now = performance.now();
      for (const poll of [...this.held]) {
        const due = poll.socket.destroyed || now >= poll.due || (await poll.currentPhase().catch(() => undefined)) !== poll.phase;
        if (!due || !this.held.delete(poll)) continue;
        poll.release(now);
        // One answer per turn of the event loop: fifty answers with a preview each, built in one turn, held it ~70 ms.
        await new Promise(setImmediate);
      }
    } finally {
      this.ticking = false;
      if (this.held.size === 0) {
        clearInterval(this.ticker);
        this.ticker = undefined;
      }
    }
  }
}
