import { pairingTokenSchema, type SelectionState } from '../../shared/pluginMessages.js';
import type { MainNotice, MainThreadBridge } from './bridge.js';
import { HelperConnection } from './connection.js';
import type { HelperClient } from '../../shared/helperClient.js';
import { StylizeRun } from './run.js';
import { SettingsForm } from './settingsForm.js';
import { type ServerShown, serverOf } from './serverText.js';
import { PanelView } from './view.js';

const SAVE_DELAY_MS = 300;

/**
 * The panel: it wires the main thread's notices, the helper connection, the settings and the runs to the view. The
 * three parts keep their own state (connection.ts, run.ts, settingsForm.ts); this class decides only what needs two
 * of them, such as whether Stylize may start.
 */
export class Panel {
  private connection: HelperConnection | null = null;
  /** The server the main thread named: the local helper or this build's team server. */
  private server: string | null = null;
  private selection: SelectionState | null = null;
  private run: StylizeRun | null = null;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly view: PanelView;
  private readonly form: SettingsForm;

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
      this.view.renderFrames(this.selection);
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
      this.bridge.post({ type: 'save-token', helperUrl: this.server, token: parsed.data });
      token.value = '';
      this.view.el.stylize.focus();
    } else if (outcome.kind === 'needs-pairing') {
      token.setAttribute('aria-invalid', 'true');
      token.select();
    }
  }

  private stylize(): void {
    const { connection, selection } = this;
    if (!connection || selection?.state !== 'ready' || this.stylizeBlocker() !== null) return;
    const frames = { contentId: selection.content.id, styleId: selection.style.id, contentName: selection.content.name };
    const run = new StylizeRun(frames, { ...this.form.settings }, this.bridge, connection, () => {
      if (this.run === run) this.render();
    });
    this.run = run;
    void run.start();
    this.view.el.cancel.focus();
  }

  /** Why Stylize cannot start, in words, or null when it can. */
  private stylizeBlocker(): string | null {
    if (this.run?.active) return 'A run is under way.';
    const kind = this.connection?.state.kind;
    const team = this.serverShown()?.team ?? false;
    if (kind === 'needs-pairing') return team ? 'Stylize needs your personal token.' : 'Stylize needs the pairing token.';
    if (kind === 'starting') return 'Stylize can start once the helper is ready.';
    if (kind !== 'connected') return team ? 'Stylize needs the team server.' : 'Stylize needs the helper.';
    if (this.selection?.state !== 'ready') return 'Stylize needs two frames selected.';
    if (this.form.hasProblems) return 'Fix the settings above.';
    return null;
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
    el.swap.addEventListener('click', () => this.bridge.post({ type: 'swap-roles' }));
    el.stylize.addEventListener('click', () => this.stylize());
    el.cancel.addEventListener('click', () => void this.run?.cancel());
    el.insertAgain.addEventListener('click', () => void this.run?.insertAgain());
  }

  private saveSettingsSoon(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.bridge.post({ type: 'save-settings', settings: this.form.settings }), SAVE_DELAY_MS);
  }

  private render(): void {
    const focused = this.doc.activeElement;
    this.view.renderHelper(this.connection?.state ?? { kind: 'checking' }, this.serverShown());
    this.view.renderRun(this.run, this.run?.active ? null : this.stylizeBlocker(), this.form.settings.iterations);
    // A focused button that just hid or went disabled (Cancel once a run ends) hands the focus to what comes next.
    if (focused instanceof HTMLButtonElement && (focused.hidden || focused.disabled)) {
      const { insertAgain, stylize } = this.view.el;
      [insertAgain, stylize].find((button) => !button.hidden && !button.disabled && button !== focused)?.focus();
    }
  }
}
