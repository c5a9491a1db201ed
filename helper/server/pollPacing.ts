import type { Socket } from 'node:net';

export interface PollPacingOptions {
  /** A connection gets at most one answer about a job per interval, unless the job's phase changes meanwhile. */
  readonly jobStatusIntervalMs: number;
  /** …and one answer of health, unless the engine's phase changes (a panel asks it every 10 s once connected). */
  readonly healthIntervalMs: number;
  /** How often held polls are looked at: they are answered together, on these ticks. */
  readonly tickMs: number;
}

/** A poll's phase: answers in the same phase differ only in detail (progress); a change of phase is news. */
export type PollPhase = string;

interface LastAnswer {
  readonly at: number;
  readonly phase: PollPhase;
}

/** The two polls paced, each with its own interval. */
export type PollKind = 'health' | 'job status';

interface HeldPoll {
  readonly socket: Socket;
  readonly due: number;
  readonly phase: PollPhase;
  /** The phase now, or undefined when the thing polled is gone (that is news too). */
  readonly currentPhase: () => Promise<PollPhase | undefined>;
  readonly release: (at: number) => void;
}

/** Polls of other things than the last few a connection asked for are not held (each connection keeps this many). */
const KEYS_PER_CONNECTION = 8;

/**
 * Paces repeated polls per connection, the way a long poll does. The helper's engine runs on the same few cores as
 * the clients that poll it, and each answer wakes both (a client at 20 Hz, fifty of them, slowed a job by 40%
 * though an answer costs the helper 0.1 ms). So a connection that asks again for the same thing within its interval
 * waits until the interval is over, or until the answer's phase changes (a job starts, ends, fails, shows its first
 * preview; the engine gets ready, its weights download on): it learns of every change of phase at once and of
 * progress once per interval, and a client that polls faster only waits longer for each answer. Held polls are answered together on ticks, so the helper and the clients
 * wake a few times a second rather than once per answer. A connection's first poll of a thing is answered at once.
 */
export class PollPacer {
  private readonly lastAnswers = new WeakMap<Socket, Map<string, LastAnswer>>();
  private readonly held = new Set<HeldPoll>();
  private ticker: NodeJS.Timeout | undefined;
  private ticking = false;

  constructor(private readonly options: PollPacingOptions) {}

  /**
   * Resolves when the poll of `key` on `socket` may be answered: at once with undefined, or after waiting with the
   * time of the tick that let it go (its turn: the next interval counts from it, so that a client's turns stay on
   * the ticks). `currentPhase` is asked on each tick while the poll waits.
   */
  turn(socket: Socket, kind: PollKind, key: string, currentPhase: () => Promise<PollPhase | undefined>): Promise<number | undefined> {
    const last = this.lastAnswers.get(socket)?.get(key);
    const intervalMs = kind === 'health' ? this.options.healthIntervalMs : this.options.jobStatusIntervalMs;
    if (last === undefined || performance.now() - last.at >= intervalMs) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const release = (at: number) => resolve(at);
      this.held.add({ socket, due: last.at + intervalMs, phase: last.phase, currentPhase, release });
      this.ticker ??= setInterval(() => void this.tick(), this.options.tickMs).unref();
    });
  }

  /** Notes that `socket` got an answer to `key` in `phase`, at its turn (or now). */
  answered(socket: Socket, key: string, phase: PollPhase, at = performance.now()): void {
    let answers = this.lastAnswers.get(socket);
    if (answers === undefined) this.lastAnswers.set(socket, (answers = new Map()));
    answers.delete(key); // re-inserted last: the map's order is the order of use
    answers.set(key, { at, phase });
    if (answers.size > KEYS_PER_CONNECTION) answers.delete(answers.keys().next().value!);
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
