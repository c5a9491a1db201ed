/**
 * Progress on stderr, in one of three modes:
 * - `bar`: one line redrawn in place, for a terminal;
 * - `lines`: a plain line every few seconds, for logs and pipes (no control characters);
 * - `silent`: nothing.
 */
export type ProgressMode = 'bar' | 'lines' | 'silent';

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** A terminal gets the bar; otherwise plain lines, unless the caller wants quiet (e.g. --json output). */
export function progressModeFor(stream: ProgressStream, quietUnlessTerminal: boolean): ProgressMode {
  if (stream.isTTY) return 'bar';
  return quietUnlessTerminal ? 'silent' : 'lines';
}

const BAR_WIDTH = 20;
const BAR_REDRAW_MS = 100;
const LINE_INTERVAL_MS = 5_000;

export class ProgressBar {
  private lastDrawnAt = Number.NEGATIVE_INFINITY;
  private barShown = false;

  constructor(
    private readonly stream: ProgressStream,
    private readonly mode: ProgressMode,
    private readonly label: string,
  ) {}

  /** `done` of `total` units (total undefined when unknown); `detail` follows the bar. */
  update(done: number, total: number | undefined, detail: string): void {
    if (this.mode === 'silent') return;
    const now = performance.now();
    const finished = total !== undefined && done >= total;
    const interval = this.mode === 'bar' ? BAR_REDRAW_MS : LINE_INTERVAL_MS;
    // Always show the first and the last update; in between, at most one per interval.
    if (!finished && now - this.lastDrawnAt < interval) return;
    this.lastDrawnAt = now;
    if (this.mode === 'lines') {
      this.stream.write(`${this.label}: ${detail}\n`);
      return;
    }
    const line = `${this.label} ${renderBar(total === undefined ? undefined : done / total)} ${detail}`;
    const columns = this.stream.columns || 80; // 0 when the terminal does not say
    // \r returns to the line's start, \x1b[K clears what a longer previous line left behind.
    this.stream.write(`\r${line.slice(0, Math.max(10, columns - 1))}\x1b[K`);
    this.barShown = true;
  }

  /** Leaves the bar's last state on screen and moves to the next line. */
  finish(): void {
    if (this.barShown) this.stream.write('\n');
    this.barShown = false;
  }
}

function renderBar(fraction: number | undefined): string {
  if (fraction === undefined) return `[${' '.repeat(BAR_WIDTH)}]`;
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
}

/** 75 → "1:15", 3725 → "1:02:05". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const total = Math.max(0, Math.round(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${secs}` : `${minutes}:${secs}`;
}

/** Time left when `done` of `total` units took `elapsedSeconds`. */
export function etaSeconds(done: number, total: number, elapsedSeconds: number): number {
  return done > 0 ? ((total - done) * elapsedSeconds) / done : Number.POSITIVE_INFINITY;
}
