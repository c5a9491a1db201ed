import type { EngineMemory, Health } from '../../shared/protocol.js';
import type { StylizeOptions } from '../../shared/stylizeOptions.js';
import type { StylizeProgress } from '../../shared/stylizeProgress.js';
import type { BackendChoice } from '../engine/index.js';
import type { RgbImage } from '../engine/rgbImage.js';

/** What the engine worker needs to start: everything it loads once. */
export interface EngineWorkerConfig {
  readonly backend: BackendChoice;
  /** --weights FILE, if given. */
  readonly weightsFlag: string | undefined;
  /** Style Gram targets kept for re-runs with another strength (an entry is one scale's five small matrices). */
  readonly styleCacheEntries: number;
  /** Minimum time between two previews of a running job. */
  readonly previewIntervalMs: number;
  /** Long side of the previews. */
  readonly previewMaxSide: number;
}

/** A style image of a job, its weight in the blend, and a key naming its pixels. */
export interface EngineStyle {
  readonly image: RgbImage;
  readonly weight: number;
  /** Identifies the style image's pixels (as given, before scaling), so that its Gram targets can be reused. */
  readonly key: string;
}

/** What the engine makes of a job: one image, or the strength preview row at these strengths. */
export type EngineJobKind =
  | { readonly kind: 'stylize' }
  | { readonly kind: 'strength-row'; readonly strengths: readonly number[] };

/** A job as the engine runs it; options are the ones it runs with (a strength row's are strengthRowOptions'). */
export type EngineJobInput = EngineJobKind & {
  readonly content: RgbImage;
  readonly styles: readonly EngineStyle[];
  readonly options: StylizeOptions;
};

export type EngineJobRequest = EngineJobInput & { readonly jobId: string };

/** A finished job's images. */
export type EngineJobResult =
  | { readonly kind: 'stylize'; readonly image: RgbImage }
  | { readonly kind: 'strength-row'; readonly previews: ReadonlyArray<{ readonly strength: number; readonly image: RgbImage }> };

/** Main thread → worker. */
export type ToWorker =
  | ({ readonly type: 'run' } & EngineJobRequest)
  | { readonly type: 'cancel'; readonly jobId: string }
  /** Cancel what runs, free the engine (weights, sessions, the style cache), then answer 'closed'. */
  | { readonly type: 'shutdown' };

/** The weights' state as health shows it, and where they are (shown only to the paired plugin). */
export type WeightsState = Health['weights'] & { readonly path: string | null };

export type { EngineMemory };

/** One iteration's progress record as the engine made it, with a preview when it is time for one. */
export interface EngineProgress {
  readonly progress: StylizeProgress;
  readonly preview: RgbImage | null;
}

/** Where a canceled job stopped: iterations done when the cancel reached the engine, and when it stopped. */
export interface CanceledAt {
  readonly askedAfter: number;
  readonly stoppedAfter: number;
}

/** Worker → main thread. */
export type FromWorker =
  | { readonly type: 'weights'; readonly weights: WeightsState }
  | { readonly type: 'ready'; readonly backend: string; readonly device: string }
  | { readonly type: 'startup-failed'; readonly message: string }
  | ({ readonly type: 'progress'; readonly jobId: string } & EngineProgress)
  | { readonly type: 'done'; readonly jobId: string; readonly result: EngineJobResult }
  | {
      readonly type: 'failed';
      readonly jobId: string;
      readonly message: string;
      /** The backend's state cannot be trusted after this error (a WebAssembly trap, out of memory): restart. */
      readonly engineBroken: boolean;
    }
  | ({ readonly type: 'canceled'; readonly jobId: string } & CanceledAt)
  /** Sent when ready and after each job, before its outcome: health must never wait for a busy engine. */
  | { readonly type: 'memory'; readonly memory: EngineMemory }
  /** The answer to 'shutdown': the engine is disposed; what it still held then (all zero when nothing leaked). */
  | { readonly type: 'closed'; readonly memory: EngineMemory };
