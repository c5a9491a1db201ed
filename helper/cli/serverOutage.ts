import { HelperError, HelperUnreachableError } from '../../shared/helperClient.js';

/** How long a batch waits for a server that stopped answering before it gives up. */
export const OUTAGE_LIMIT_MS = 5 * 60_000;

/**
 * A server that stops answering for a while (a gateway restarting, Redis away: 503, a proxy's 502/504, the network)
 * does not lose a batch: its jobs live on in the queue, so `gramstyle batch` keeps asking, says so once, and says when
 * the server answers again. Only an outage longer than `limitMs` ends the batch.
 */
export class ServerOutage {
  private since: number | null = null;

  constructor(
    private readonly report: (line: string) => void,
    private readonly limitMs = OUTAGE_LIMIT_MS,
  ) {}

  /** Notes a failed request; rethrows what is not an outage, and an outage that has lasted too long. */
  failed(error: unknown): void {
    if (!isPassingOutage(error)) throw error;
    const now = Date.now();
    if (this.since === null) {
      this.since = now;
      this.report(`the server is not answering (${(error as Error).message}); asking again for up to ${Math.round(this.limitMs / 60_000)} min`);
    } else if (now - this.since > this.limitMs) {
      throw new Error(`the server has not answered for ${Math.round((now - this.since) / 1000)} s: ${(error as Error).message}`);
    }
  }

  /** A request went through: the outage, if any, is over. */
  answered(): void {
    if (this.since === null) return;
    this.report(`the server answers again after ${Math.round((Date.now() - this.since) / 1000)} s`);
    this.since = null;
  }
}

/** Whether the error is the server being away for now, not an answer about the request. */
function isPassingOutage(error: unknown): boolean {
  return error instanceof HelperUnreachableError || (error instanceof HelperError && [502, 503, 504].includes(error.status));
}
