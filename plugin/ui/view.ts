import type { Connection } from './connection.js';
import { describeConnection, NETWORK_HELP, PAIR_COMMAND, type ServerShown, START_COMMAND, START_NOTE, TEAM_TOKEN_HELP } from './serverText.js';
import { formatDimensions, formatEta } from './format.js';
import { RESTARTED_ON_WORKER_MESSAGE, type StylizeRun } from './run.js';

/** The panel's DOM: it finds the elements once and writes state into them; it decides nothing. */
export class PanelView {
  readonly el: ReturnType<typeof findElements>;
  /** Whether the words of a team server are on show (they change only when that does). */
  private team: boolean | null = null;

  constructor(private readonly doc: Document) {
    this.el = findElements(doc);
  }

  fillStaticText(): void {
    const { el } = this;
    el.startCommand.textContent = START_COMMAND;
    el.startNote.textContent = START_NOTE;
    el.helpNetwork.replaceChildren(strong(this.doc, 'Figma in a browser?'), ` ${NETWORK_HELP}`);
  }

  /** The server's state, and which server it is (null until the main thread has named it). */
  renderHelper(connection: Connection, server: ServerShown | null): void {
    const { el } = this;
    const team = server?.team ?? false;
    if (team !== this.team) this.fillServerText(team);
    el.helperServer.textContent = server ? `${team ? 'Team server' : 'Helper on this computer'} · ${server.host}` : '';
    el.helper.dataset.state = connection.kind;
    el.helperHelp.hidden = connection.kind !== 'unreachable' && connection.kind !== 'broken';
    // A team server is started by whoever runs it, and is no app on this computer that the browser might keep out.
    el.helpStart.hidden = team;
    // An engine that failed to start is the helper's own trouble: restarting it is the way; the browser is not.
    el.helpNetwork.hidden = connection.kind !== 'unreachable' || team;
    el.startLead.replaceChildren(
      ...(connection.kind === 'broken'
        ? ['Fix what it says, then restart it in a terminal:']
        : [strong(this.doc, 'Not running?'), ' Start it in a terminal:']),
    );
    el.pairing.hidden = connection.kind !== 'needs-pairing';
    const { title, detail } = describeConnection(connection, server);
    el.helperTitle.textContent = title;
    el.helperDetail.textContent = detail ?? '';
    el.helperDetail.hidden = detail === null;
  }

  /** How the user gets a token: from their own helper, or from whoever runs the team server. */
  private fillServerText(team: boolean): void {
    const { el } = this;
    this.team = team;
    el.tokenLabel.textContent = team ? 'Personal token' : 'Pairing token';
    if (team) el.pairingHelp.replaceChildren(TEAM_TOKEN_HELP);
    else el.pairingHelp.replaceChildren('Run ', code(this.doc, PAIR_COMMAND), ' in a terminal and paste the token it prints.');
  }

  /** The run's part: buttons, progress, status line, error and picture. `blocker` says why Stylize is disabled. */
  renderRun(run: StylizeRun | null, blocker: string | null, plannedIterations: number): void {
    const { el } = this;
    const running = run?.active ?? false;
    el.stylize.hidden = running;
    el.stylize.disabled = blocker !== null;
    el.stylize.title = blocker ?? '';
    el.cancel.hidden = !running;
    // Once the result is being inserted there is nothing left to stop.
    el.cancel.disabled = run?.stage === 'inserting';
    el.insertAgain.hidden = running || !run?.result;

    const showProgress = run !== null && ['queued', 'running', 'fetching', 'inserting'].includes(run.stage);
    el.progress.hidden = !showProgress;
    if (showProgress && run) this.renderProgress(run, plannedIterations);
    // While the bar shows, its label says it all.
    el.runStatus.textContent = showProgress ? restartText(run) : run ? stageText(run) : (blocker ?? '');
    el.runError.hidden = !run?.error;
    el.runError.textContent = run?.error ?? '';

    const picture = run?.picture;
    el.preview.hidden = !picture;
    if (picture && el.previewImage.getAttribute('src') !== picture.url) el.previewImage.src = picture.url;
    if (picture) {
      const what = picture.iteration === null ? 'Result' : `Preview · iteration ${picture.iteration}`;
      el.previewImage.alt = `${what} of ${run.frames.contentName}`;
      el.previewCaption.textContent = `${what} · ${formatDimensions(picture.width, picture.height)} px`;
    }
  }

  /**
   * The strength row under the slider: a button per strength with its preview (the latest while it renders), the
   * one at the current strength pressed; and a line saying where the row is. `blocker` says why it cannot start.
   */
  renderStrengthRow(row: StylizeRun | null, strength: number, blocker: string | null): void {
    const { el } = this;
    const running = row?.active ?? false;
    el.previewStrengths.textContent = running ? 'Stop previews' : 'Preview strengths';
    el.previewStrengths.disabled = !running && blocker !== null;
    el.previewStrengths.title = running ? '' : (blocker ?? 'Render this job small at four strengths around the current one');
    el.strengthRow.hidden = !row || row.stage === 'canceled' || (row.stage === 'failed' && row.row.every((picture) => !picture));
    el.strengthRowStatus.textContent = row ? rowStatusText(row) : '';
    if (!row) {
      el.strengthRow.replaceChildren();
      return;
    }
    const slots = [...el.strengthRow.querySelectorAll<HTMLButtonElement>('button')];
    if (slots.map((slot) => slot.dataset.strength).join() !== row.strengths.join()) {
      el.strengthRow.replaceChildren(...row.strengths.map((value) => this.strengthSlot(value)));
    }
    for (const [index, slot] of el.strengthRow.querySelectorAll<HTMLButtonElement>('button').entries()) {
      const picture = row.row[index];
      const image = slot.querySelector('img')!;
      if (picture && image.getAttribute('src') !== picture.url) image.src = picture.url;
      slot.disabled = row.stage !== 'done';
      slot.setAttribute('aria-pressed', String(Number(slot.dataset.strength) === strength));
    }
  }

  private strengthSlot(strength: number): HTMLElement {
    const item = this.doc.createElement('li');
    const button = this.doc.createElement('button');
    button.type = 'button';
    button.className = 'strength-slot';
    button.dataset.strength = String(strength);
    button.setAttribute('aria-label', `Strength ${strength}`);
    const image = this.doc.createElement('img');
    image.alt = '';
    const label = this.doc.createElement('span');
    label.textContent = String(strength);
    button.append(image, label);
    item.append(button);
    return item;
  }

  private renderProgress(run: StylizeRun, plannedIterations: number): void {
    const { el } = this;
    const total = run.progress?.total ?? plannedIterations;
    const iteration = run.stage === 'fetching' || run.stage === 'inserting' ? total : (run.progress?.iteration ?? 0);
    el.progressBar.setAttribute('aria-valuemax', String(total));
    el.progressBar.setAttribute('aria-valuenow', String(iteration));
    el.progressFill.style.width = `${(100 * iteration) / total}%`;
    el.progressLabel.textContent =
      run.stage === 'queued'
        ? run.queuePosition === null || run.queuePosition <= 1
          ? 'Next in line…'
          : `Waiting: ${run.queuePosition - 1} job${run.queuePosition === 2 ? '' : 's'} ahead`
        : `Iteration ${iteration} of ${total}${run.stage === 'running' ? ` · ${formatEta(run.progress?.etaMs ?? null)}` : ''}`;
  }
}

/** Beside the progress bar: that the job started over on another worker, if it did. */
function restartText(run: StylizeRun | null): string {
  return run && run.restarts > 0 && run.active ? RESTARTED_ON_WORKER_MESSAGE : '';
}

function rowStatusText(row: StylizeRun): string {
  switch (row.stage) {
    case 'queued':
    case 'running': {
      if (row.restarts > 0) return RESTARTED_ON_WORKER_MESSAGE;
      if (row.stage === 'queued') return stageText(row);
      const { iteration, total, etaMs } = row.progress ?? { iteration: 0, total: 1, etaMs: null };
      return `Previewing… ${Math.round((100 * iteration) / total)} % · ${formatEta(etaMs)}`;
    }
    case 'done':
      return 'Click a preview to take its strength.';
    case 'failed':
      return row.error ?? '';
    default:
      return stageText(row);
  }
}

function stageText(run: StylizeRun): string {
  switch (run.stage) {
    case 'exporting':
      return 'Exporting the frames…';
    case 'uploading':
      return 'Sending them to the helper…';
    case 'queued':
      return 'Waiting for the helper…';
    case 'running':
      return 'Converging…';
    case 'reconnecting':
      return 'Lost contact with the helper. Waiting for it to answer again…';
    case 'fetching':
      return 'Fetching the result…';
    case 'inserting':
      return 'Inserting the result…';
    case 'done':
      return `Inserted “${run.insertedName ?? ''}” beside ${run.frames.contentName}.`;
    case 'canceled':
      return 'Canceled.';
    case 'failed':
      return '';
  }
}

function code(doc: Document, text: string): HTMLElement {
  const element = doc.createElement('code');
  element.textContent = text;
  return element;
}

function strong(doc: Document, text: string): HTMLElement {
  const element = doc.createElement('strong');
  element.textContent = text;
  return element;
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
    helperServer: byId('helper-server', HTMLElement),
    helperHelp: byId('helper-help', HTMLElement),
    helpStart: byId('help-start', HTMLElement),
    startLead: byId('start-lead', HTMLElement),
    startCommand: byId('start-command', HTMLElement),
    startNote: byId('start-note', HTMLElement),
    helpNetwork: byId('help-network', HTMLElement),
    retry: byId('retry', HTMLButtonElement),
    pairing: byId('pairing', HTMLElement),
    tokenLabel: byId('token-label', HTMLLabelElement),
    token: byId('token', HTMLInputElement),
    pair: byId('pair', HTMLButtonElement),
    pairingHelp: byId('pairing-help', HTMLElement),
    selectionHint: byId('selection-hint', HTMLElement),
    selectedFrames: byId('selected-frames', HTMLElement),
    contentCard: byId('content-card', HTMLElement),
    styleCardTemplate: byId('style-card-template', HTMLTemplateElement),
    strength: byId('strength', HTMLInputElement),
    strengthValue: byId('strength-value', HTMLOutputElement),
    previewStrengths: byId('preview-strengths', HTMLButtonElement),
    strengthRowStatus: byId('strength-row-status', HTMLElement),
    strengthRow: byId('strength-row', HTMLElement),
    preserveColors: byId('preserve-colors', HTMLSelectElement),
    styleScale: byId('style-scale', HTMLInputElement),
    styleScaleValue: byId('style-scale-value', HTMLOutputElement),
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

export type PanelElements = PanelView['el'];
