import { FIGMA_MAX_IMAGE_SIZE, type PanelSettings } from '../../shared/pluginMessages.js';
import type { Health, JobKind, JobProgress, JobStatus } from '../../shared/protocol.js';
import { STRENGTH_ROW_ITERATIONS, STRENGTH_ROW_SIZE, strengthRow } from '../../shared/strengthRow.js';
import { type MainThreadBridge, MainThreadFailure } from './bridge.js';
import type { HelperConnection } from './connection.js';
import { bytesToBase64, messageOf, pngDataUrl } from './format.js';
import { HelperError, HelperUnreachableError } from '../../shared/helperClient.js';

export type RunStage =
  | 'exporting'
  | 'uploading'
  | 'queued'
  | 'running'
  /** The helper stopped answering while it had the job: waiting for it to answer again. */
  | 'reconnecting'
  | 'fetching'
  | 'inserting'
  | 'done'
  | 'canceled'
  | 'failed';

const ACTIVE_STAGES: ReadonlySet<RunStage> = new Set(['exporting', 'uploading', 'queued', 'running', 'reconnecting', 'fetching', 'inserting']);

const JOB_POLL_MS = 400;

/** The frames of a run: the content, and each style with its weight in the blend. */
export interface RunFrames {
  readonly contentId: string;
  readonly styles: ReadonlyArray<{ readonly id: string; readonly weight: number }>;
  readonly contentName: string;
}

/** The newest picture: a preview while converging (with its iteration), the result once done. */
export interface RunPicture {
  readonly url: string;
  readonly iteration: number | null;
  readonly width: number;
  readonly height: number;
}

/** One preview of a strength row: the helper's final one, or the latest while it is being rendered. */
export interface RowPicture extends RunPicture {
  readonly strength: number;
}

export const RESTARTED_MESSAGE = 'The helper restarted, and the job it was running was lost. Press Stylize to run it again.';
/** A team server's job whose worker stopped: the gateway gave it to another worker, which runs it from the start. */
export const RESTARTED_ON_WORKER_MESSAGE = 'Restarted on another worker: the one running the job stopped, so it starts over.';

/** An error whose message is meant for the user as it is. */
class RunError extends Error {}

/**
 * One job from the panel: export through the main thread, the job on the helper (followed with progress and
 * previews), then for Stylize the insertion of the result, for a strength row its previews. It keeps its state in
 * fields and calls `onChange` whenever they change. The helper that takes the job is known by its instanceId: when
 * the job disappears (a 404) or the helper comes back with another instanceId, the helper restarted (a crash,
 * kill -9, a logout) and the job is gone with it.
 */
export class StylizeRun {
  stage: RunStage = 'exporting';
  queuePosition: number | null = null;
  progress: JobProgress | null = null;
  picture: RunPicture | null = null;
  result: Uint8Array | null = null;
  /** A strength row's pictures, by strength index: the latest preview of each while rendering, then the helper's. */
  row: Array<RowPicture | null> = [];
  insertedName: string | null = null;
  error: string | null = null;
  /** How many times the job started over on another worker (a team server's; see JobStatus.restarts). */
  restarts = 0;
  private jobId: string | null = null;
  private readonly canceled = new AbortController();

  constructor(
    readonly kind: JobKind,
    readonly frames: RunFrames,
    private readonly settings: PanelSettings,
    private readonly bridge: MainThreadBridge,
    private readonly connection: HelperConnection,
    private readonly onChange: () => void,
  ) {}

  get active(): boolean {
    return ACTIVE_STAGES.has(this.stage);
  }

  /** A strength row's strengths, lowest first (none for Stylize). */
  get strengths(): readonly number[] {
    return this.kind === 'strength-row' ? strengthRow(this.settings.strength) : [];
  }

  async start(): Promise<void> {
    const { client } = this.connection;
    const helperInstance = this.connection.health?.instanceId ?? null;
    this.onChange();
    try {
      const { contentId, styles } = this.frames;
      // A strength row renders small previews: the frames go at its size.
      const size = this.kind === 'strength-row' ? STRENGTH_ROW_SIZE : this.settings.size;
      const styleIds = styles.map((style) => style.id);
      const styleSize = styleExportSize(size, this.settings.styleScale);
      const exported = await this.bridge.request({ type: 'export', contentId, styleIds, size, styleSize });
      if (this.isCanceled()) return;
      if (exported.styles.length !== styles.length) {
        throw new Error(`Figma exported ${exported.styles.length} style frames of the ${styles.length} asked for.`);
      }
      this.advance('uploading');
      const jobId = await client.createJob({
        kind: this.kind,
        content: bytesToBase64(exported.content),
        styles: exported.styles.map((png, index) => ({ image: bytesToBase64(png), weight: styles[index]!.weight })),
        options: this.settings,
      });
      this.jobId = jobId;
      if (this.isCanceled()) {
        void client.cancel(jobId).catch(() => undefined);
        return;
      }
      const resultSize = await this.follow(jobId, helperInstance);
      if (!resultSize) return;
      this.advance('fetching');
      if (this.kind === 'strength-row') {
        const row = await this.fromHelper(helperInstance, () => client.strengthRow(jobId));
        if (!row || this.isCanceled()) return;
        this.row = row.previews.map(({ strength, png, width, height }) => ({ strength, url: pngDataUrl(png), iteration: null, width, height }));
        this.advance('done');
        return;
      }
      const result = await this.fromHelper(helperInstance, () => client.result(jobId));
      if (!result || this.isCanceled()) return;
      this.result = result;
      this.picture = { url: pngDataUrl(result), iteration: null, ...resultSize };
      await this.insert();
    } catch (error) {
      if (!this.isCanceled()) this.fail(error);
    }
  }

  async cancel(): Promise<void> {
    if (!this.active) return;
    this.canceled.abort();
    this.advance('canceled');
    // The job may have just finished; then there is nothing left to cancel.
    if (this.jobId) await this.connection.client.cancel(this.jobId).catch(() => undefined);
  }

  /** Inserts the finished result once more. */
  async insertAgain(): Promise<void> {
    if (!this.result || this.active) return;
    this.error = null;
    try {
      await this.insert();
    } catch (error) {
      this.fail(error);
    }
  }

  private async insert(): Promise<void> {
    if (!this.result) return;
    this.advance('inserting');
    const styleIds = this.frames.styles.map((style) => style.id);
    const reply = await this.bridge.request({ type: 'insert', contentId: this.frames.contentId, styleIds, png: this.result });
    this.insertedName = reply.name;
    this.advance('done');
  }

  /** Polls the job until it ends; resolves with the result's size when done, null when canceled. */
  private async follow(jobId: string, helperInstance: string | null): Promise<{ width: number; height: number } | null> {
    const { client } = this.connection;
    for (;;) {
      const status: JobStatus | null = await this.fromHelper(helperInstance, () => client.jobStatus(jobId, this.picture?.iteration ?? null));
      if (!status || this.isCanceled()) return null;
      this.queuePosition = status.queuePosition;
      this.progress = status.progress;
      if (status.restarts > this.restarts) {
        // The previews were of the run that stopped; the new one's start from the first iteration again, which
        // previewAfter would hold back until they passed the old ones.
        this.restarts = status.restarts;
        this.picture = null;
        this.row = [];
      }
      // A preview the panel already shows is not decoded again. (A gateway serves only the current attempt's.)
      if (status.preview && status.preview.iteration !== this.picture?.iteration) {
        const { png, iteration, width, height } = status.preview;
        this.picture = { url: pngDataUrl(png), iteration, width, height };
        if (this.kind === 'strength-row') this.showInRow(this.picture);
      }
      switch (status.status) {
        case 'queued':
        case 'running':
          this.advance(status.status);
          break;
        case 'done':
          if (!status.result) throw new RunError('The helper finished without a result.');
          return status.result;
        case 'canceled':
          this.advance('canceled');
          return null;
        case 'failed':
          throw new RunError(status.error?.message ?? 'The helper could not finish the job.');
      }
      await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
    }
  }

  /** A strength row's preview goes to the strength being rendered: the row's iterations run one strength after another. */
  private showInRow(picture: RunPicture): void {
    const index = Math.floor((picture.iteration! - 1) / STRENGTH_ROW_ITERATIONS);
    const strength = this.strengths[index];
    if (strength !== undefined) this.row[index] = { ...picture, strength };
  }

  /**
   * Asks the helper about the job. When it cannot be reached, waits until it answers again and asks once more, if
   * it is the same helper; resolves null when the run is canceled meanwhile. Throws RESTARTED_MESSAGE when the
   * helper that had the job is gone.
   */
  private async fromHelper<T>(helperInstance: string | null, ask: () => Promise<T>): Promise<T | null> {
    for (;;) {
      try {
        return await ask();
      } catch (error) {
        const unreachable = error instanceof HelperUnreachableError;
        if (!unreachable && !(error instanceof HelperError && error.code === 'not-found')) throw error;
        const stage = this.stage;
        const health = unreachable ? await this.helperBack() : await this.connection.client.health().catch((healthError: unknown) => {
          if (healthError instanceof HelperUnreachableError) return this.helperBack();
          throw healthError;
        });
        if (!health) return null;
        if (health.instanceId !== helperInstance) throw new RunError(RESTARTED_MESSAGE);
        if (!unreachable) throw new RunError('The helper no longer has this job. Press Stylize to run it again.');
        this.advance(stage); // the same helper is back: carry on
      }
    }
  }

  /** Waits, showing why, until the helper answers again; null when the run is canceled meanwhile. */
  private async helperBack(): Promise<Health | null> {
    this.advance('reconnecting');
    return untilAborted(this.connection.lost(), this.canceled.signal);
  }

  private fail(error: unknown): void {
    let message = messageOf(error);
    if (error instanceof HelperUnreachableError) {
      message = 'Lost contact with the helper.';
      void this.connection.lost();
    } else if (error instanceof HelperError && error.code === 'unauthorized') {
      message = 'The helper no longer accepts the pairing token. Pair again.';
      this.connection.refused();
    }
    this.error = message;
    // The main thread tells the user of its own failures through figma.notify.
    if (!(error instanceof MainThreadFailure)) this.bridge.post({ type: 'notify', message: `Gramstyle: ${message}`, error: true });
    this.advance('failed');
  }

  private advance(stage: RunStage): void {
    if (this.stage === 'canceled' && stage !== 'canceled') return;
    this.stage = stage;
    this.onChange();
  }

  private isCanceled(): boolean {
    return this.canceled.signal.aborted;
  }
}

/**
 * The long side to export a style frame at: the brush size times the output's, so that the helper need not enlarge
 * it (an enlarged export would lose the frame's own detail), within Figma's limits.
 */
export function styleExportSize(size: number, styleScale: number): number {
  return Math.min(FIGMA_MAX_IMAGE_SIZE, Math.max(1, Math.round(size * styleScale)));
}

/** `promise`'s value, or null as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | null> {
  if (signal.aborted) return Promise.resolve(null);
  return new Promise((resolve) => {
    signal.addEventListener('abort', () => resolve(null), { once: true });
    promise.then(resolve, () => resolve(null));
  });
}
