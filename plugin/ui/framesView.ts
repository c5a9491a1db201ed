import type { FrameSummary, SelectionState } from '../../shared/pluginMessages.js';
import { formatDimensions, pngDataUrl } from './format.js';

/** A style's weight in the blend before the user sets it: the middle of the slider, so it can go either way. */
const DEFAULT_WEIGHT = 50;

export interface FramesElements {
  readonly selectionHint: HTMLElement;
  readonly selectedFrames: HTMLElement;
  readonly contentCard: HTMLElement;
  readonly styleCardTemplate: HTMLTemplateElement;
}

/** A style of the selection and its weight in the blend. */
export interface WeightedFrame {
  readonly id: string;
  readonly weight: number;
}

/**
 * The frames section: the content's card, a card for each style with the button that makes it the content, and with
 * several styles a weight slider on each, showing the style's share of the blend. It remembers the weights by frame
 * for as long as the panel is open, so that reselecting the same frames keeps the mix.
 */
export class FramesView {
  private readonly weights = new Map<string, number>();
  private styleFrames: readonly FrameSummary[] = [];

  constructor(
    private readonly el: FramesElements,
    private readonly handlers: { onWeightChange(): void; onUseAsContent(frameId: string): void },
  ) {}

  /** The selection's styles with their weights, in order (none unless the selection is ready). One style weighs 1. */
  get styles(): WeightedFrame[] {
    if (this.styleFrames.length === 1) return [{ id: this.styleFrames[0]!.id, weight: 1 }];
    return this.styleFrames.map(({ id }) => ({ id, weight: this.weightOf(id) }));
  }

  /** Why the weights cannot make a blend, in words, or null when they can. */
  get problem(): string | null {
    return this.styles.length > 0 && this.styles.every((style) => style.weight === 0)
      ? 'Give at least one style a weight above 0.'
      : null;
  }

  render(selection: SelectionState | null): void {
    const { el } = this;
    const ready = selection?.state === 'ready';
    el.selectedFrames.hidden = !ready;
    el.selectionHint.hidden = ready;
    if (!selection) return;
    if (selection.state === 'hint') {
      this.styleFrames = [];
      el.selectionHint.textContent = selection.hint;
      return;
    }
    fillFrameCard(el.contentCard, selection.content);
    this.styleFrames = selection.styles;
    for (const card of el.selectedFrames.querySelectorAll('.style-card')) card.remove();
    el.selectedFrames.append(...selection.styles.map((frame, index) => this.styleCard(frame, index + 1)));
    this.showShares();
  }

  private styleCard(frame: FrameSummary, number: number): HTMLElement {
    const card = this.el.styleCardTemplate.content.firstElementChild!.cloneNode(true) as HTMLElement;
    card.dataset.frameId = frame.id;
    fillFrameCard(card, frame);
    const several = this.styleFrames.length > 1;
    if (several) card.querySelector('.role')!.textContent = `Style ${number}`;

    const useAsContent = card.querySelector<HTMLButtonElement>('.use-as-content')!;
    const label = `Use “${frame.name}” as the content`;
    useAsContent.setAttribute('aria-label', label);
    useAsContent.title = label;
    useAsContent.addEventListener('click', () => this.handlers.onUseAsContent(frame.id));

    const weight = card.querySelector<HTMLElement>('.weight')!;
    weight.hidden = !several;
    const slider = weight.querySelector<HTMLInputElement>('input')!;
    slider.setAttribute('aria-label', `Weight of “${frame.name}” in the blend`);
    slider.value = String(this.weightOf(frame.id));
    slider.addEventListener('input', () => {
      this.weights.set(frame.id, Number(slider.value));
      this.showShares();
      this.handlers.onWeightChange();
    });
    return card;
  }

  /** Each slider's filled part and its style's share of the blend, in percent. */
  private showShares(): void {
    const total = this.styles.reduce((sum, style) => sum + style.weight, 0);
    for (const card of this.el.selectedFrames.querySelectorAll<HTMLElement>('.style-card')) {
      const weight = this.weightOf(card.dataset.frameId!);
      card.querySelector<HTMLInputElement>('.weight input')!.style.setProperty('--filled', `${weight}%`);
      card.querySelector('.weight-share')!.textContent = total > 0 ? `${Math.round((100 * weight) / total)} %` : '0 %';
    }
  }

  private weightOf(id: string): number {
    return this.weights.get(id) ?? DEFAULT_WEIGHT;
  }
}

function fillFrameCard(card: HTMLElement, frame: FrameSummary): void {
  const thumb = card.querySelector('img');
  if (thumb) {
    if (frame.thumbnail) thumb.src = pngDataUrl(frame.thumbnail);
    else thumb.removeAttribute('src');
    thumb.alt = '';
  }
  card.querySelector('.frame-name')!.textContent = frame.name;
  card.querySelector('.frame-size')!.textContent = formatDimensions(frame.width, frame.height);
  card.title = frame.name;
}
