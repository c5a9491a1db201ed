import { HelperClient, HelperError } from '../../shared/helperClient.js';
import { type CreateBatchRequest, MAX_BATCH_JOBS } from '../../shared/protocol.js';

/**
 * How many jobs the first request carries: a gateway's default quota of waiting jobs per user (`gramstyle gateway
 * --max-waiting`). The server does not say its quota; a 429 tells it was less.
 */
export const FIRST_CHUNK = Math.min(32, MAX_BATCH_JOBS);

/** What every job of a batch shares: the style images and the options. */
export type BatchSettings = Omit<CreateBatchRequest, 'contents'>;

/**
 * Sends a batch's content images in chunks the server takes. A server refuses a request whole when it would pass the
 * user's quota of waiting jobs (a 429), so a batch larger than the quota goes in parts: as many as the quota is
 * thought to leave room for (FIRST_CHUNK at first, less the jobs of this batch still waiting), half as many after a
 * 429, and more as the batch's jobs start.
 */
export class BatchSubmission {
  /** The most jobs of this batch thought to fit in the queue at once. */
  private quota = FIRST_CHUNK;
  /** The server's words the first time it had no room (for the user), else null. */
  refusal: string | null = null;

  constructor(
    private readonly client: HelperClient,
    private readonly settings: BatchSettings,
  ) {}

  /**
   * Queues the first of `contents` (base64 images) that fit, given that `waiting` jobs of this batch are still
   * waiting; resolves with their ids, in order ([] when none fit now: ask again once some have started).
   */
  async next(contents: readonly string[], waiting: number): Promise<string[]> {
    const count = Math.min(contents.length, MAX_BATCH_JOBS, Math.max(0, this.quota - waiting));
    if (count === 0) return [];
    try {
      return await this.client.createBatch({ ...this.settings, contents: contents.slice(0, count) });
    } catch (error) {
      if (!(error instanceof HelperError && error.status === 429)) throw error;
      this.refusal ??= error.message;
      // Half as many next time; when not even one fitted, none until one of this batch's jobs has started (the
      // quota is then full of them), or, with none waiting, one at each try (other jobs of the user fill it).
      this.quota = Math.max(1, waiting + Math.floor(count / 2));
      return [];
    }
  }
}
