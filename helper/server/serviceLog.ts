import { writeSync } from 'node:fs';

/** How long a line may wait for others before it is written. */
const FLUSH_AFTER_MS = 50;

let pending = '';
let flushTimer: NodeJS.Timeout | undefined;
let exitHookInstalled = false;

/**
 * The log of `serve` and `gateway`: one line per event on stdout, after an ISO timestamp. Lines are written
 * together, at most 50 ms after the first of them, rather than one by one: a polled helper logs every request
 * (hundreds a second under load), stdout to a file or pipe is written synchronously, and one write system call per
 * line cost the thread that answers requests more than answering them did. Whatever is pending when the process
 * exits is written before it does.
 */
export function logLine(line: string): void {
  pending += `${new Date().toISOString()} ${line}\n`;
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', flushAtExit);
    // As console.log does: a closed stdout (EPIPE: the terminal or the service manager went away) must not take the
    // service down with an unhandled 'error'; the log then has nowhere to go.
    process.stdout.on('error', () => {});
  }
  flushTimer ??= setTimeout(flushServiceLog, FLUSH_AFTER_MS).unref();
}

/** Writes the pending lines now; a line written with console.log after this comes after them. */
export function flushServiceLog(): void {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = undefined;
  if (pending === '') return;
  process.stdout.write(pending);
  pending = '';
}

/** At exit the stream's queue is not drained any more: the rest goes out with one synchronous write. */
function flushAtExit(): void {
  if (pending === '') return;
  try {
    writeSync(process.stdout.fd, pending);
  } catch {
    // stdout closed (the terminal or the service manager went away): the log has nowhere to go.
  }
  pending = '';
}
