import { FIGMA_MAX_IMAGE_SIZE, panelSettingsSchema, type PanelSettings, SIZE_PRESETS } from '../../shared/pluginMessages.js';
import { MIN_SIZE } from '../../shared/stylizeOptions.js';
import type { PanelElements } from './view.js';

const CUSTOM_SIZE = 'custom';
const MAX_ITERATIONS = 10_000;

/**
 * The job settings the user makes in the panel (strength, size, iterations): it shows them, checks what is typed and
 * reports every valid change. A field with a problem keeps the last valid value and says what is wrong.
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
    const preset = SIZE_PRESETS.find((candidate) => candidate.size === settings.size);
    el.sizePreset.value = preset ? String(preset.size) : CUSTOM_SIZE;
    el.sizeCustom.hidden = preset !== undefined;
    el.sizeCustom.value = String(settings.size);
    el.iterations.value = String(settings.iterations);
  }

  private bind(): void {
    const { el } = this;
    el.strength.addEventListener('input', () => {
      this.update({ strength: Number(el.strength.value) });
      this.showStrength();
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
