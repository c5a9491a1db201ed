import { pairingTokenSchema, type SelectionState } from '../../shared/pluginMessages.js';
import type { JobKind } from '../../shared/protocol.js';
import type { MainNotice, MainThreadBridge } from './bridge.js';
import { HelperConnection } from './connection.js';
import { FramesView } from './framesView.js';
import type { HelperClient } from '../../shared/helperClient.js';
import { StylizeRun } from './run.js';
import { SettingsForm } from './settingsForm.js';
import { type ServerShown, serverOf } from './serverText.js';
import { PanelView } from './view.js';

const SAVE_DELAY_MS = 300;

/**
 * The panel: it wires the main thread's notices, the helper connection, the frames, the settings and the runs to the
 * view. The parts keep their own state (connection.ts, framesView.ts, run.ts, settingsForm.ts); this class decides
 * only what needs two of them, such as whether Stylize may start.
 */
export class Panel {
  private connection: HelperConnection | null = null;
  /** The server the main thread named: the local helper or this build's team server. */
  private server: string | null = null;
  private selection: SelectionState | null = null;
  /** The last Stylize. */
  private run: StylizeRun | null = null;
  /** The last strength row; only one of the two runs at a time. */
  private row: StylizeRun | null = null;
  /** What the row's previews show apart from the strength (rowLook()); other frames or settings make it stale. */
  private rowShows = '';
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly view: PanelView;
  private readonly form: SettingsForm;
  private readonly frames: FramesView;

  constructor(
    private readonly bridge: MainThreadBridge,
    private readonly createClient: (helperUrl: string) => HelperClient,
    private readonly doc: Document = document,
  ) {
    this.view = new PanelView(doc);
    this.form = new SettingsForm(this.view.el, doc, () => {
      this.saveSettingsSoon();
      this.render();
    });
    this.frames = new FramesView(this.view.el, {
      onWeightChange: () => this.render(),
      onUseAsContent: (frameId) => this.bridge.post({ type: 'set-content', frameId }),
    });
  }

  start(): void {
    this.view.fillStaticText();
    this.bindControls();
    this.bridge.onNotice((notice) => this.onNotice(notice));
    this.bridge.post({ type: 'ready' });
    this.render();
  }

  private onNotice(notice: MainNotice): void {
    if (notice.type === 'init') {
      this.form.show(notice.settings);
      this.server = notice.helperUrl;
      const client = this.createClient(notice.helperUrl);
      client.token = notice.token;
      this.connection = new HelperConnection(client, () => this.render(), () => this.run?.active === true && this.run.stage !== 'reconnecting');
      void this.connection.check();
    } else {
      this.selection = notice.selection;
      this.frames.render(this.selection);
    }
    this.render();
  }

  private async pair(): Promise<void> {
    const { token } = this.view.el;
    const parsed = pairingTokenSchema.safeParse(token.value);
    if (!parsed.success || !this.connection || !this.server) {
      token.setAttribute('aria-invalid', 'true');
      token.focus();
      return;
    }
    token.removeAttribute('aria-invalid');
    const outcome = await this.connection.pair(parsed.data);
    if (outcome.kind === 'connected' || outcome.kind === 'starting') {
      this.bridge.post({ type: 'save-token', token: parsed.data });
      token.value = '';
      this.view.el.stylize.focus();
    } else if (outcome.kind === 'needs-pairing') {
      token.setAttribute('aria-invalid', 'true');
      token.select();
    }
  }

  private stylize(): void {
    const run = this.newRun('stylize');
    if (!run) return;
    this.run = run;
    void run.start();
    this.view.el.cancel.focus();
  }

  /** Starts a strength row, or stops the one under way. */
  private previewStrengths(): void {
    if (this.row?.active) {
      void this.row.cancel();
      return;
    }
    const row = this.newRun('strength-row');
    if (!row) return;
    this.row = row;
    this.rowShows = this.rowLook();
    void row.start();
  }

  /** A run of the selected frames with the current settings, if one may start. */
  private newRun(kind: JobKind): StylizeRun | null {
    const { connection, selection } = this;
    if (!connection || selection?.state !== 'ready' || this.stylizeBlocker() !== null) return null;
    const frames = { contentId: selection.content.id, styles: this.frames.styles, contentName: selection.content.name };
    const run = new StylizeRun(kind, frames, { ...this.form.settings }, this.bridge, connection, () => {
      if (this.run === run || this.row === run) this.render();
    });
    return run;
  }

  /** Why Stylize (or a strength row) cannot start, in words, or null when it can. */
  private stylizeBlocker(): string | null {
    if (this.run?.active || this.row?.active) return 'A run is under way.';
    const kind = this.connection?.state.kind;
    const team = this.serverShown()?.team ?? false;
    if (kind === 'needs-pairing') return team ? 'Stylize needs your personal token.' : 'Stylize needs the pairing token.';
    if (kind === 'starting') return 'Stylize can start once the helper is ready.';
    if (kind !== 'connected') return team ? 'Stylize needs the team server.' : 'Stylize needs the helper.';
    if (this.selection?.state !== 'ready') return 'Stylize needs two frames selected.';
    if (this.form.hasProblems) return 'Fix the settings above.';
    return this.frames.problem;
  }

  /** The server the main thread named, and whether it is a team's (null until it has). */
  private serverShown(): ServerShown | null {
    return this.server === null ? null : serverOf(this.server, this.connection?.role ?? null);
  }

  private bindControls(): void {
    const { el } = this.view;
    el.retry.addEventListener('click', () => this.connection?.retry());
    el.pair.addEventListener('click', () => void this.pair());
    el.token.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') void this.pair();
    });
    el.stylize.addEventListener('click', () => this.stylize());
    el.previewStrengths.addEventListener('click', () => this.previewStrengths());
    el.strengthRow.addEventListener('click', (event) => {
      const slot = (event.target as Element).closest<HTMLButtonElement>('button[data-strength]');
      if (slot && !slot.disabled) this.form.setStrength(Number(slot.dataset.strength));
    });
    el.cancel.addEventListener('click', () => void this.run?.cancel());
    el.insertAgain.addEventListener('click', () => void this.run?.insertAgain());
  }

  private saveSettingsSoon(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.bridge.post({ type: 'save-settings', settings: this.form.settings }), SAVE_DELAY_MS);
  }

  /**
   * What a strength row's previews depend on besides the strength: the frames, their weights and the other
   * settings (size and iterations do not apply to the row's small previews).
   */
  private rowLook(): string {
    const { strength, size, iterations, ...look } = this.form.settings;
    const frames = this.selection?.state === 'ready' ? [this.selection.content.id, this.frames.styles] : null;
    return JSON.stringify({ look, frames });
  }

  private render(): void {
    // A finished row whose frames or settings changed would offer previews of another picture.
    if (this.row && !this.row.active && this.rowShows !== this.rowLook()) this.row = null;
    const focused = this.doc.activeElement;
    this.view.renderHelper(this.connection?.state ?? { kind: 'checking' }, this.serverShown());
    const blocker = this.stylizeBlocker();
    this.view.renderRun(this.run, this.run?.active ? null : blocker, this.form.settings.iterations);
    this.view.renderStrengthRow(this.row, this.form.settings.strength, blocker);
    // A focused button that just hid or went disabled (Cancel once a run ends) hands the focus to what comes next.
    if (focused instanceof HTMLButtonElement && (focused.hidden || focused.disabled)) {
      const { insertAgain, stylize } = this.view.el;
      [insertAgain, stylize].find((button) => !button.hidden && !button.disabled && button !== focused)?.focus();
    }
  }
}
