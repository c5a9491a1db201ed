import { FIGMA_MAX_IMAGE_SIZE, panelSettingsSchema, type PanelSettings, SIZE_PRESETS } from '../../shared/pluginMessages.js';
import { MAX_STYLE_SCALE, MIN_SIZE, MIN_STYLE_SCALE, type StylizeOptions } from '../../shared/stylizeOptions.js';
import type { PanelElements } from './view.js';

const CUSTOM_SIZE = 'custom';
const MAX_ITERATIONS = 10_000;

/** The colour choices, in the designer's words. */
const COLOR_CHOICES: ReadonlyArray<{ value: StylizeOptions['preserveColors']; label: string }> = [
  { value: 'off', label: 'From the style' },
  { value: 'luminance', label: 'Keep the content’s' },
  { value: 'histogram', label: 'Style recoloured to the content’s' },
];

/**
 * The job settings the user makes in the panel (strength, colours, brush size, size, iterations): it shows them,
 * checks what is typed and reports every valid change. A field with a problem keeps the last valid value and says
 * what is wrong.
 */
export class SettingsForm {
  settings: PanelSettings = panelSettingsSchema.parse({});

  constructor(
    private readonly el: PanelElements,
    private readonly doc: Document,
    /** Called after each change (valid or not), e.g. to save and re-render. */
    private readonly onChange: (settings: PanelSettings) => void,
  ) {
    el.sizePreset.replaceChildren(
      ...SIZE_PRESETS.map(({ label, size }) => this.option(String(size), `${label} · ${size} px`)),
      this.option(CUSTOM_SIZE, 'Custom…'),
    );
    el.preserveColors.replaceChildren(...COLOR_CHOICES.map(({ value, label }) => this.option(value, label)));
    el.styleScale.min = String(MIN_STYLE_SCALE);
    el.styleScale.max = String(MAX_STYLE_SCALE);
    this.bind();
  }

  /** Whether any field holds something the job would refuse. */
  get hasProblems(): boolean {
    return !this.el.sizeProblem.hidden || !this.el.iterationsProblem.hidden;
  }

  show(settings: PanelSettings): void {
    const { el } = this;
    this.settings = settings;
    el.strength.value = String(settings.strength);
    this.showStrength();
    el.preserveColors.value = settings.preserveColors;
    el.styleScale.value = String(settings.styleScale);
    this.showStyleScale();
    const preset = SIZE_PRESETS.find((candidate) => candidate.size === settings.size);
    el.sizePreset.value = preset ? String(preset.size) : CUSTOM_SIZE;
    el.sizeCustom.hidden = preset !== undefined;
    el.sizeCustom.value = String(settings.size);
    el.iterations.value = String(settings.iterations);
  }

  /** Sets the strength as if the slider had been moved (a strength preview was picked). */
  setStrength(strength: number): void {
    this.el.strength.value = String(strength);
    this.update({ strength });
    this.showStrength();
  }

  private bind(): void {
    const { el } = this;
    el.strength.addEventListener('input', () => {
      this.update({ strength: Number(el.strength.value) });
      this.showStrength();
    });
    el.preserveColors.addEventListener('change', () => {
      const choice = COLOR_CHOICES.find(({ value }) => value === el.preserveColors.value);
      if (choice) this.update({ preserveColors: choice.value });
    });
    el.styleScale.addEventListener('input', () => {
      this.update({ styleScale: Number(el.styleScale.value) });
      this.showStyleScale();
    });
    el.sizePreset.addEventListener('change', () => {
      const custom = el.sizePreset.value === CUSTOM_SIZE;
      el.sizeCustom.hidden = !custom;
      if (custom) {
        el.sizeCustom.value = String(this.settings.size);
        el.sizeCustom.focus();
        this.onChange(this.settings);
      } else {
        showProblem(el.sizeProblem, el.sizeCustom, null);
        this.update({ size: Number(el.sizePreset.value) });
      }
    });
    el.sizeCustom.addEventListener('input', () => {
      const size = wholeNumberIn(el.sizeCustom.value, MIN_SIZE, FIGMA_MAX_IMAGE_SIZE);
      showProblem(el.sizeProblem, el.sizeCustom, size === null ? `Enter a whole number from ${MIN_SIZE} to ${FIGMA_MAX_IMAGE_SIZE}.` : null);
      this.update(size === null ? {} : { size });
    });
    el.iterations.addEventListener('input', () => {
      const iterations = wholeNumberIn(el.iterations.value, 1, MAX_ITERATIONS);
      showProblem(el.iterationsProblem, el.iterations, iterations === null ? `Enter a whole number from 1 to ${MAX_ITERATIONS}.` : null);
      this.update(iterations === null ? {} : { iterations });
    });
  }

  private update(change: Partial<PanelSettings>): void {
    this.settings = { ...this.settings, ...change };
    this.onChange(this.settings);
  }

  private showStrength(): void {
    this.el.strengthValue.value = String(this.settings.strength);
    // The slider's filled part (styles.css) follows this.
    this.el.strength.style.setProperty('--filled', `${this.settings.strength}%`);
  }

  private showStyleScale(): void {
    const { styleScale } = this.settings;
    this.el.styleScaleValue.value = `${styleScale.toFixed(2)}×`;
    const filled = (100 * (styleScale - MIN_STYLE_SCALE)) / (MAX_STYLE_SCALE - MIN_STYLE_SCALE);
    this.el.styleScale.style.setProperty('--filled', `${filled}%`);
  }

  private option(value: string, label: string): HTMLOptionElement {
    const element = this.doc.createElement('option');
    element.value = value;
    element.textContent = label;
    return element;
  }
}

function showProblem(problem: HTMLElement, input: HTMLInputElement, message: string | null): void {
  problem.hidden = message === null;
  problem.textContent = message ?? '';
  if (message === null) input.removeAttribute('aria-invalid');
  else input.setAttribute('aria-invalid', 'true');
}

function wholeNumberIn(text: string, min: number, max: number): number | null {
  const value = Number(text.trim());
  return text.trim() !== '' && Number.isInteger(value) && value >= min && value <= max ? value : null;
}
