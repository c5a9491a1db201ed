import {
  FIGMA_MAX_IMAGE_SIZE,
  type FrameSummary,
  pairingTokenSchema,
  panelSettingsSchema,
  type PanelSettings,
  type SelectionState,
  SIZE_PRESETS,
} from '../../shared/pluginMessages.js';
import type { Health, JobProgress, JobStatus } from '../../shared/protocol.js';
import { MIN_SIZE } from '../../shared/stylizeOptions.js';
import { type MainNotice, type MainThreadBridge, MainThreadFailure } from './bridge.js';
import { bytesToBase64, formatDimensions, formatEta, pngDataUrl } from './format.js';
import { HelperClient, HelperError, HelperUnreachableError } from './helperClient.js';

/** How the user starts the helper and reads its token (see the README's "Figma plugin" section). */
export const START_COMMAND = 'gramstyle serve';
export const START_NOTE = 'From a clone of Gramstyle without npm link: node bin/gramstyle.js serve';
export const PAIR_COMMAND = 'gramstyle pair';

const JOB_POLL_MS = 400;
const STARTING_POLL_MS = 1000;
const RECONNECT_POLL_MS = 3000;
const CONNECTED_POLL_MS = 10_000;
const SAVE_DELAY_MS = 300;
const CUSTOM_SIZE = 'custom';

type Connection =
  | { kind: 'checking' }
  | { kind: 'connected'; health: Health }
  | { kind: 'starting'; health: Health }
  | { kind: 'not-running' }
  | { kind: 'needs-pairing'; refused: boolean }
  | { kind: 'broken'; message: string };

/** One press of Stylize, from export to insertion. */
interface Run {
  readonly contentId: string;
  readonly styleId: string;
  readonly contentName: string;
  stage: 'exporting' | 'uploading' | 'queued' | 'running' | 'fetching' | 'inserting' | 'done' | 'canceled' | 'failed';
  canceled: boolean;
  jobId: string | null;
  queuePosition: number | null;
  progress: JobProgress | null;
  /** The newest picture: a preview while converging, the result once done. */
  picture: { url: string; iteration: number | null; width: number; height: number } | null;
  result: Uint8Array | null;
  insertedName: string | null;
  error: string | null;
}

const ACTIVE_STAGES: ReadonlySet<Run['stage']> = new Set(['exporting', 'uploading', 'queued', 'running', 'fetching', 'inserting']);

/** The panel: state in fields, `render()` writing it to the DOM, event handlers changing it. */
export class Panel {
  private client: HelperClient | null = null;
  private connection: Connection = { kind: 'checking' };
  private selection: SelectionState | null = null;
  private settings: PanelSettings = panelSettingsSchema.parse({});
  private run: Run | null = null;
  private checkSerial = 0;
  private checkTimer: ReturnType<typeof setTimeout> | undefined;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly el: ReturnType<typeof findElements>;

  constructor(
    private readonly bridge: MainThreadBridge,
    private readonly createClient: (helperUrl: string) => HelperClient,
    private readonly doc: Document = document,
  ) {
    this.el = findElements(doc);
  }

  start(): void {
    this.fillStaticText();
    this.bindControls();
    this.bridge.onNotice((notice) => this.onNotice(notice));
    this.bridge.post({ type: 'ready' });
    this.render();
  }

  // ---- the main thread ----

  private onNotice(notice: MainNotice): void {
    if (notice.type === 'init') {
      this.settings = notice.settings;
      this.client = this.createClient(notice.helperUrl);
      this.client.token = notice.token;
      this.writeSettingsToControls();
      void this.checkHelper();
    } else {
      this.selection = notice.selection;
      this.renderFrames();
    }
    this.render();
  }

  // ---- the helper's status ----

  /** Asks the helper how it is and whether it takes our token; keeps asking while it is not usable yet. */
  private async checkHelper(): Promise<Connection> {
    clearTimeout(this.checkTimer);
    const client = this.client;
    if (!client) return this.connection;
    const serial = ++this.checkSerial;
    // Once paired, the periodic checks read only the health: the token probe answers 404, which browsers log as
    // an error each time. A token revoked later shows up as a 401 on the next job.
    const verifyToken = this.connection.kind !== 'connected';
    let next: Connection;
    try {
      const health = await client.health();
      if (health.status === 'error') {
        next = { kind: 'broken', message: health.details?.message ?? 'The helper could not start its engine.' };
      } else if (!client.token) {
        next = { kind: 'needs-pairing', refused: false };
      } else if (verifyToken && !(await client.tokenAccepted(client.token))) {
        next = { kind: 'needs-pairing', refused: true };
      } else if (health.status === 'starting') {
        next = { kind: 'starting', health };
      } else {
        next = { kind: 'connected', health };
      }
    } catch (error) {
      next = error instanceof HelperUnreachableError ? { kind: 'not-running' } : { kind: 'broken', message: messageOf(error) };
    }
    if (serial !== this.checkSerial) return next; // a newer check has started meanwhile
    this.connection = next;
    this.render();
    const delay = recheckDelay(next);
    if (delay !== null) this.scheduleCheck(delay);
    return next;
  }

  private scheduleCheck(delay: number): void {
    clearTimeout(this.checkTimer);
    this.checkTimer = setTimeout(() => {
      // A running job reports trouble itself; checking meanwhile would only add requests.
      if (this.isRunning()) this.scheduleCheck(delay);
      else void this.checkHelper();
    }, delay);
  }

  private async pair(): Promise<void> {
    const parsed = pairingTokenSchema.safeParse(this.el.token.value);
    if (!parsed.success || !this.client) {
      this.el.token.setAttribute('aria-invalid', 'true');
      this.el.token.focus();
      return;
    }
    this.el.token.removeAttribute('aria-invalid');
    this.client.token = parsed.data;
    const outcome = await this.checkHelper();
    if (outcome.kind === 'connected' || outcome.kind === 'starting') {
      this.bridge.post({ type: 'save-token', token: parsed.data });
      this.el.token.value = '';
      this.el.stylize.focus();
    } else if (outcome.kind === 'needs-pairing') {
      this.el.token.setAttribute('aria-invalid', 'true');
      this.el.token.select();
    }
  }

  // ---- stylizing ----

  private isRunning(): boolean {
    return this.run !== null && ACTIVE_STAGES.has(this.run.stage);
  }

  private canStylize(): boolean {
    return (
      this.connection.kind === 'connected' &&
      this.selection?.state === 'ready' &&
      !this.isRunning() &&
      this.el.sizeProblem.hidden &&
      this.el.iterationsProblem.hidden
    );
  }

  private async stylize(): Promise<void> {
    const client = this.client;
    const selection = this.selection;
    if (!client || selection?.state !== 'ready' || !this.canStylize()) return;
    const run: Run = {
      contentId: selection.content.id,
      styleId: selection.style.id,
      contentName: selection.content.name,
      stage: 'exporting',
      canceled: false,
      jobId: null,
      queuePosition: null,
      progress: null,
      picture: null,
      result: null,
      insertedName: null,
      error: null,
    };
    this.run = run;
    const options = { ...this.settings };
    this.render();
    this.el.cancel.focus();
    try {
      const exported = await this.bridge.request({ type: 'export', contentId: run.contentId, styleId: run.styleId, size: options.size });
      if (run.canceled) return;
      this.advance(run, 'uploading');
      run.jobId = await client.createJob({
        content: bytesToBase64(exported.content),
        style: bytesToBase64(exported.style),
        options,
      });
      if (run.canceled) {
        void client.cancel(run.jobId).catch(() => undefined);
        return;
      }
      const finished = await this.followJob(client, run, run.jobId);
      if (!finished) return;
      this.advance(run, 'fetching');
      run.result = await client.result(run.jobId);
      if (run.canceled) return;
      run.picture = { url: pngDataUrl(run.result), iteration: null, ...finished };
      await this.insert(run);
    } catch (error) {
      if (!run.canceled) this.fail(run, error);
    }
  }

  /** Polls the job until it ends; resolves with the result's size when done, null when canceled. */
  private async followJob(client: HelperClient, run: Run, jobId: string): Promise<{ width: number; height: number } | null> {
    for (;;) {
      const status: JobStatus = await client.jobStatus(jobId);
      if (run.canceled) return null;
      run.queuePosition = status.queuePosition;
      run.progress = status.progress;
      if (status.preview && status.preview.iteration !== run.picture?.iteration) {
        const { png, iteration, width, height } = status.preview;
        run.picture = { url: pngDataUrl(png), iteration, width, height };
      }
      switch (status.status) {
        case 'queued':
          this.advance(run, 'queued');
          break;
        case 'running':
          this.advance(run, 'running');
          break;
        case 'done':
          if (!status.result) throw new PanelError('The helper finished without a result.');
          return status.result;
        case 'canceled':
          this.advance(run, 'canceled');
          return null;
        case 'failed':
          throw new PanelError(status.error?.message ?? 'The helper could not finish the job.');
      }
      await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
    }
  }

  private async insert(run: Run): Promise<void> {
    if (!run.result) return;
    this.advance(run, 'inserting');
    const reply = await this.bridge.request({ type: 'insert', contentId: run.contentId, styleId: run.styleId, png: run.result });
    run.insertedName = reply.name;
    this.advance(run, 'done');
    if (this.doc.activeElement === this.el.cancel || this.doc.activeElement === this.doc.body) this.el.insertAgain.focus();
  }

  private async insertAgain(): Promise<void> {
    const run = this.run;
    if (!run?.result || this.isRunning()) return;
    run.error = null;
    try {
      await this.insert(run);
    } catch (error) {
      this.fail(run, error);
    }
  }

  private async cancel(): Promise<void> {
    const run = this.run;
    if (!run || !this.isRunning()) return;
    run.canceled = true;
    this.advance(run, 'canceled');
    this.el.stylize.focus();
    if (run.jobId && this.client) {
      // The job may have just finished; then there is nothing left to cancel.
      await this.client.cancel(run.jobId).catch(() => undefined);
    }
  }

  private advance(run: Run, stage: Run['stage']): void {
    if (this.run !== run) return;
    run.stage = stage;
    this.render();
  }

  private fail(run: Run, error: unknown): void {
    let message = messageOf(error);
    if (error instanceof HelperUnreachableError) {
      message = 'Lost contact with the helper. Is it still running?';
      this.connection = { kind: 'not-running' };
      void this.checkHelper();
    } else if (error instanceof HelperError && error.code === 'unauthorized') {
      message = 'The helper no longer accepts the pairing token. Pair again.';
      this.connection = { kind: 'needs-pairing', refused: true };
    }
    run.error = message;
    // The main thread tells the user of its own failures through figma.notify.
    if (!(error instanceof MainThreadFailure)) this.bridge.post({ type: 'notify', message: `Gramstyle: ${message}`, error: true });
    if (this.el.cancel === this.doc.activeElement) this.el.stylize.focus();
    this.advance(run, 'failed');
  }

  // ---- controls ----

  private bindControls(): void {
    const { el } = this;
    el.retry.addEventListener('click', () => {
      this.connection = { kind: 'checking' };
      this.render();
      void this.checkHelper();
    });
    el.pair.addEventListener('click', () => void this.pair());
    el.token.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') void this.pair();
    });
    el.swap.addEventListener('click', () => this.bridge.post({ type: 'swap-roles' }));
    el.strength.addEventListener('input', () => {
      this.settings = { ...this.settings, strength: Number(el.strength.value) };
      this.showStrength();
      this.saveSettingsSoon();
    });
    el.sizePreset.addEventListener('change', () => {
      const custom = el.sizePreset.value === CUSTOM_SIZE;
      el.sizeCustom.hidden = !custom;
      if (custom) {
        el.sizeCustom.value = String(this.settings.size);
        el.sizeCustom.focus();
      } else {
        this.settings = { ...this.settings, size: Number(el.sizePreset.value) };
        this.showProblem(el.sizeProblem, el.sizeCustom, null);
        this.saveSettingsSoon();
      }
      this.render();
    });
    el.sizeCustom.addEventListener('input', () => {
      const size = wholeNumberIn(el.sizeCustom.value, MIN_SIZE, FIGMA_MAX_IMAGE_SIZE);
      this.showProblem(el.sizeProblem, el.sizeCustom, size === null ? `Enter a whole number from ${MIN_SIZE} to ${FIGMA_MAX_IMAGE_SIZE}.` : null);
      if (size !== null) {
        this.settings = { ...this.settings, size };
        this.saveSettingsSoon();
      }
      this.render();
    });
    el.iterations.addEventListener('input', () => {
      const iterations = wholeNumberIn(el.iterations.value, 1, 10_000);
      this.showProblem(el.iterationsProblem, el.iterations, iterations === null ? 'Enter a whole number from 1 to 10000.' : null);
      if (iterations !== null) {
        this.settings = { ...this.settings, iterations };
        this.saveSettingsSoon();
      }
      this.render();
    });
    el.stylize.addEventListener('click', () => void this.stylize());
    el.cancel.addEventListener('click', () => void this.cancel());
    el.insertAgain.addEventListener('click', () => void this.insertAgain());
  }

  private showStrength(): void {
    this.el.strengthValue.value = String(this.settings.strength);
    // The slider's filled part (styles.css) follows this.
    this.el.strength.style.setProperty('--filled', `${this.settings.strength}%`);
  }

  private showProblem(problem: HTMLElement, input: HTMLInputElement, message: string | null): void {
    problem.hidden = message === null;
    problem.textContent = message ?? '';
    if (message === null) input.removeAttribute('aria-invalid');
    else input.setAttribute('aria-invalid', 'true');
  }

  private saveSettingsSoon(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.bridge.post({ type: 'save-settings', settings: this.settings }), SAVE_DELAY_MS);
  }

  private fillStaticText(): void {
    const { el } = this;
    el.startCommand.textContent = START_COMMAND;
    el.startNote.textContent = START_NOTE;
    el.pairingHelp.replaceChildren('Run ', code(this.doc, PAIR_COMMAND), ' in a terminal and paste the token it prints.');
    el.sizePreset.replaceChildren(
      ...SIZE_PRESETS.map(({ label, size }) => option(this.doc, String(size), `${label} · ${size} px`)),
      option(this.doc, CUSTOM_SIZE, 'Custom…'),
    );
  }

  private writeSettingsToControls(): void {
    const { el, settings } = this;
    el.strength.value = String(settings.strength);
    this.showStrength();
    const preset = SIZE_PRESETS.find((candidate) => candidate.size === settings.size);
    el.sizePreset.value = preset ? String(preset.size) : CUSTOM_SIZE;
    el.sizeCustom.hidden = preset !== undefined;
    el.sizeCustom.value = String(settings.size);
    el.iterations.value = String(settings.iterations);
  }

  // ---- rendering ----

  private render(): void {
    this.renderHelper();
    this.renderRun();
  }

  private renderHelper(): void {
    const { el, connection } = this;
    el.helper.dataset.state = connection.kind;
    el.helperStart.hidden = connection.kind !== 'not-running';
    el.pairing.hidden = connection.kind !== 'needs-pairing';
    let title: string;
    let detail: string | null = null;
    switch (connection.kind) {
      case 'checking':
        title = 'Looking for the Gramstyle helper…';
        break;
      case 'connected': {
        title = 'Helper connected';
        const { backend, device } = connection.health.details ?? { backend: null, device: null };
        detail = [backend, device].filter(Boolean).join(' · ') || null;
        break;
      }
      case 'starting': {
        title = 'Helper starting…';
        const { weights } = connection.health;
        detail =
          weights.status === 'downloading'
            ? `Downloading the VGG-19 weights${weights.progress === null ? '' : ` · ${Math.round(weights.progress * 100)} %`}`
            : 'Loading the network';
        break;
      }
      case 'not-running':
        title = 'Helper not running';
        break;
      case 'needs-pairing':
        title = connection.refused ? 'The helper refused the token' : 'Pair with the helper';
        detail = connection.refused ? 'The saved token is not this helper’s.' : null;
        break;
      case 'broken':
        title = 'Helper error';
        detail = connection.message;
        el.helperStart.hidden = false;
        break;
    }
    el.helperTitle.textContent = title;
    el.helperDetail.textContent = detail ?? '';
    el.helperDetail.hidden = detail === null;
  }

  private renderFrames(): void {
    const { el, selection } = this;
    const ready = selection?.state === 'ready';
    el.framePair.hidden = !ready;
    el.selectionHint.hidden = ready;
    if (!selection) return;
    if (selection.state === 'hint') {
      el.selectionHint.textContent = selection.hint;
      return;
    }
    fillFrameCard(el.contentCard, selection.content);
    fillFrameCard(el.styleCard, selection.style);
  }

  private renderRun(): void {
    const { el, run } = this;
    const running = this.isRunning();
    el.stylize.hidden = running;
    el.stylize.disabled = !this.canStylize();
    el.stylize.title = this.stylizeBlocker() ?? '';
    el.cancel.hidden = !running;
    // Once the result is being inserted there is nothing left to stop.
    el.cancel.disabled = run?.stage === 'inserting';
    el.insertAgain.hidden = running || !run?.result;

    const progress = run?.progress;
    const showProgress = run !== null && ['queued', 'running', 'fetching', 'inserting'].includes(run.stage);
    el.progress.hidden = !showProgress;
    if (showProgress && run) {
      const total = progress?.total ?? this.settings.iterations;
      const iteration = run.stage === 'fetching' || run.stage === 'inserting' ? total : (progress?.iteration ?? 0);
      el.progressBar.setAttribute('aria-valuemax', String(total));
      el.progressBar.setAttribute('aria-valuenow', String(iteration));
      el.progressFill.style.width = `${(100 * iteration) / total}%`;
      el.progressLabel.textContent =
        run.stage === 'queued'
          ? run.queuePosition === null || run.queuePosition <= 1
            ? 'Next in line…'
            : `Waiting: ${run.queuePosition - 1} job${run.queuePosition === 2 ? '' : 's'} ahead`
          : `Iteration ${iteration} of ${total}${run.stage === 'running' ? ` · ${formatEta(progress?.etaMs ?? null)}` : ''}`;
    }

    // While the bar shows, its label says it all.
    el.runStatus.textContent = showProgress ? '' : run ? stageText(run) : (this.stylizeBlocker() ?? '');
    el.runError.hidden = !run?.error;
    el.runError.textContent = run?.error ?? '';

    const picture = run?.picture;
    el.preview.hidden = !picture;
    if (picture && el.previewImage.getAttribute('src') !== picture.url) {
      el.previewImage.src = picture.url;
    }
    if (picture) {
      const what = picture.iteration === null ? 'Result' : `Preview · iteration ${picture.iteration}`;
      el.previewImage.alt = `${what} of ${run?.contentName ?? 'the content frame'}`;
      el.previewCaption.textContent = `${what} · ${formatDimensions(picture.width, picture.height)} px`;
    }
  }

  /** Why Stylize is disabled, in words, or null when it is not. */
  private stylizeBlocker(): string | null {
    if (this.isRunning()) return null;
    if (this.connection.kind === 'needs-pairing') return 'Stylize needs the pairing token.';
    if (this.connection.kind === 'starting') return 'Stylize can start once the helper is ready.';
    if (this.connection.kind !== 'connected') return 'Stylize needs the helper.';
    if (this.selection?.state !== 'ready') return 'Stylize needs two frames selected.';
    if (!this.el.sizeProblem.hidden || !this.el.iterationsProblem.hidden) return 'Fix the settings above.';
    return null;
  }
}

/** How soon to ask the helper again: often while it starts or is missing, now and then once connected. */
function recheckDelay(connection: Connection): number | null {
  switch (connection.kind) {
    case 'starting':
      return STARTING_POLL_MS;
    case 'not-running':
    case 'broken':
      return RECONNECT_POLL_MS;
    case 'connected':
      return CONNECTED_POLL_MS;
    default:
      return null; // checking is under way; pairing waits for the user
  }
}

/** An error whose message is meant for the user as it is. */
class PanelError extends Error {}

function stageText(run: Run): string {
  switch (run.stage) {
    case 'exporting':
      return 'Exporting the frames…';
    case 'uploading':
      return 'Sending them to the helper…';
    case 'queued':
      return 'Waiting for the helper…';
    case 'running':
      return 'Converging…';
    case 'fetching':
      return 'Fetching the result…';
    case 'inserting':
      return 'Inserting the result…';
    case 'done':
      return `Inserted “${run.insertedName ?? ''}” beside ${run.contentName}.`;
    case 'canceled':
      return 'Canceled.';
    case 'failed':
      return '';
  }
}

function fillFrameCard(card: HTMLElement, frame: FrameSummary): void {
  const thumb = card.querySelector('img');
  if (thumb) {
    if (frame.thumbnail) thumb.src = pngDataUrl(frame.thumbnail);
    else thumb.removeAttribute('src');
    thumb.alt = '';
  }
  setText(card, '.frame-name', frame.name);
  setText(card, '.frame-size', formatDimensions(frame.width, frame.height));
  card.title = frame.name;
}

function setText(parent: HTMLElement, selector: string, text: string): void {
  const element = parent.querySelector(selector);
  if (element) element.textContent = text;
}

function option(doc: Document, value: string, label: string): HTMLOptionElement {
  const element = doc.createElement('option');
  element.value = value;
  element.textContent = label;
  return element;
}

function code(doc: Document, text: string): HTMLElement {
  const element = doc.createElement('code');
  element.textContent = text;
  return element;
}

function wholeNumberIn(text: string, min: number, max: number): number | null {
  const value = Number(text.trim());
  return text.trim() !== '' && Number.isInteger(value) && value >= min && value <= max ? value : null;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function findElements(doc: Document) {
  const byId = <T extends HTMLElement>(id: string, type: new () => T): T => {
    const element = doc.getElementById(id);
    if (!(element instanceof type)) throw new Error(`the panel's HTML lacks #${id}`);
    return element;
  };
  return {
    helper: byId('helper', HTMLElement),
    helperTitle: byId('helper-title', HTMLElement),
    helperDetail: byId('helper-detail', HTMLElement),
    helperStart: byId('helper-start', HTMLElement),
    startCommand: byId('start-command', HTMLElement),
    startNote: byId('start-note', HTMLElement),
    retry: byId('retry', HTMLButtonElement),
    pairing: byId('pairing', HTMLElement),
    token: byId('token', HTMLInputElement),
    pair: byId('pair', HTMLButtonElement),
    pairingHelp: byId('pairing-help', HTMLElement),
    selectionHint: byId('selection-hint', HTMLElement),
    framePair: byId('frame-pair', HTMLElement),
    contentCard: byId('content-card', HTMLElement),
    styleCard: byId('style-card', HTMLElement),
    swap: byId('swap', HTMLButtonElement),
    strength: byId('strength', HTMLInputElement),
    strengthValue: byId('strength-value', HTMLOutputElement),
    sizePreset: byId('size-preset', HTMLSelectElement),
    sizeCustom: byId('size-custom', HTMLInputElement),
    sizeProblem: byId('size-problem', HTMLElement),
    iterations: byId('iterations', HTMLInputElement),
    iterationsProblem: byId('iterations-problem', HTMLElement),
    stylize: byId('stylize', HTMLButtonElement),
    cancel: byId('cancel', HTMLButtonElement),
    progress: byId('progress', HTMLElement),
    progressBar: byId('progress-bar', HTMLElement),
    progressFill: byId('progress-fill', HTMLElement),
    progressLabel: byId('progress-label', HTMLElement),
    runStatus: byId('run-status', HTMLElement),
    runError: byId('run-error', HTMLElement),
    preview: byId('preview', HTMLElement),
    previewImage: byId('preview-image', HTMLImageElement),
    previewCaption: byId('preview-caption', HTMLElement),
    insertAgain: byId('insert-again', HTMLButtonElement),
  };
}
