import { parseArgs, type ParseArgsConfig } from 'node:util';

import { BACKEND_NAMES, isBackendChoice, type BackendChoice } from '../engine/index.js';
import {
  styleBlendSchema,
  stylizeOptionsSchema,
  type StylizeOptions,
  type StylizeOptionsInput,
} from '../../shared/stylizeOptions.js';
import { UsageError } from './usageError.js';

/** How a job command (`stylize`, `demo`) is called. */
export interface JobCommandSpec {
  readonly command: string;
  /** What each positional argument is, for messages: ["content image", "style image"]. */
  readonly positionals: readonly string[];
  /** The last positional may be given up to this many times (stylize's style images); once without it. */
  readonly lastPositionalMax?: number;
  /** How many style images the job has, given its positionals: --style-blend gives a weight to each. */
  readonly styleCount: (positionals: readonly string[]) => number;
  readonly outputRequired: boolean;
  /** The command's own defaults, applied under the flags and over the schema's defaults. */
  readonly defaults?: Partial<StylizeOptionsInput>;
}

/** What `stylize` and `demo` need to run one job. */
export interface JobArgs {
  /** As many as the spec names (the last perhaps repeated). */
  readonly positionals: readonly string[];
  readonly outputPath: string | undefined;
  readonly options: StylizeOptions;
  /** --style-blend: a weight for each style image, in their order; undefined for equal weights. */
  readonly styleBlend: readonly number[] | undefined;
  readonly backend: BackendChoice;
  readonly weightsFlag: string | undefined;
  readonly json: boolean;
}

type OptionKey = keyof StylizeOptionsInput;

/** Flags that set a job option: each is parsed strictly here, then checked by the shared schema (limits live there). */
const OPTION_FLAGS: ReadonlyArray<{ flag: string; key: OptionKey; kind: 'number' | 'numbers' | 'text' }> = [
  { flag: 'size', key: 'size', kind: 'number' },
  { flag: 'iterations', key: 'iterations', kind: 'number' },
  { flag: 'strength', key: 'strength', kind: 'number' },
  { flag: 'seed', key: 'seed', kind: 'number' },
  { flag: 'init', key: 'init', kind: 'text' },
  { flag: 'pooling', key: 'pooling', kind: 'text' },
  { flag: 'optimizer', key: 'optimizer', kind: 'text' },
  { flag: 'style-weights', key: 'styleLayerWeights', kind: 'numbers' },
  { flag: 'tv', key: 'tvWeight', kind: 'number' },
  { flag: 'multi-scale', key: 'multiScale', kind: 'text' },
  { flag: 'preserve-colors', key: 'preserveColors', kind: 'text' },
  { flag: 'style-scale', key: 'styleScale', kind: 'number' },
];

/** The flags that set job options, for a command's parseArgs config. */
export const OPTION_FLAG_CONFIG = Object.fromEntries(OPTION_FLAGS.map(({ flag }) => [flag, { type: 'string' as const }]));

const PARSE_CONFIG = {
  allowPositionals: true,
  strict: true,
  options: {
    ...OPTION_FLAG_CONFIG,
    output: { type: 'string', short: 'o' },
    'style-blend': { type: 'string' },
    backend: { type: 'string' },
    weights: { type: 'string' },
    json: { type: 'boolean' },
  },
} satisfies ParseArgsConfig;

/**
 * Parses a job's command line. Every problem found is collected, so the user sees them all at once;
 * throws UsageError listing them.
 */
export function parseJobArgs(argv: readonly string[], spec: JobCommandSpec): JobArgs {
  let parsed: ReturnType<typeof parseArgs<typeof PARSE_CONFIG>>;
  try {
    parsed = parseArgs({ ...PARSE_CONFIG, args: [...argv] });
  } catch (error) {
    throw argumentSyntaxError(error);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const problems: string[] = [];

  const missing = spec.positionals.slice(parsed.positionals.length);
  if (missing.length > 0) problems.push(`${spec.command}: missing the ${missing.join(' and ')}`);
  const repeats = spec.lastPositionalMax ?? 1;
  const allowed = spec.positionals.length - 1 + repeats;
  for (const extra of parsed.positionals.slice(allowed)) {
    const limit = repeats > 1 ? ` (at most ${repeats} ${spec.positionals.at(-1)}s)` : '';
    problems.push(`${spec.command}: unexpected argument "${extra}"${limit}`);
  }

  const outputPath = values['output'] as string | undefined;
  if (outputPath === undefined && spec.outputRequired) {
    problems.push(`${spec.command}: missing -o <out.png>, the file to write the result to`);
  }
  if (outputPath !== undefined && !/\.png$/i.test(outputPath)) {
    problems.push(`-o/--output: the result is written as PNG, so the file name must end in .png (got "${outputPath}")`);
  }

  const options = parseOptionFlags(values, spec.defaults, problems);
  const styleBlend = parseStyleBlend(values['style-blend'] as string | undefined, spec.styleCount(parsed.positionals), problems);

  const backend = (values['backend'] as string | undefined) ?? 'auto';
  if (!isBackendChoice(backend)) problems.push(unknownBackendProblem(backend));

  if (problems.length > 0 || !options) throw new UsageError(problems);
  return {
    positionals: parsed.positionals,
    outputPath,
    options,
    styleBlend,
    backend: backend as BackendChoice,
    weightsFlag: values['weights'] as string | undefined,
    json: values['json'] === true,
  };
}

/**
 * The job options the flags set (over `defaults`, over the schema's), or null with every problem pushed onto
 * `problems`: each flag is parsed strictly here, then checked by the shared schema (limits live there).
 */
export function parseOptionFlags(
  values: Readonly<Record<string, string | boolean | undefined>>,
  defaults: Partial<StylizeOptionsInput> | undefined,
  problems: string[],
): StylizeOptions | null {
  const input: Record<string, unknown> = { ...defaults };
  let flagsParsed = true;
  for (const { flag, key, kind } of OPTION_FLAGS) {
    const text = values[flag];
    if (typeof text !== 'string') continue;
    const value = kind === 'text' ? text : kind === 'number' ? parseNumber(text) : parseNumberList(text);
    if (value === undefined) {
      const expected = kind === 'numbers' ? 'comma-separated numbers' : 'a number';
      problems.push(`--${flag}: expected ${expected}, got "${text}"`);
      flagsParsed = false;
    } else {
      input[key] = value;
    }
  }
  const result = stylizeOptionsSchema.safeParse(input);
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(`${flagForPath(issue.path)}: ${lowerFirst(issue.message)}`);
  }
  return result.success && flagsParsed ? result.data : null;
}

/** A port number 0–65535 from a flag's text, or undefined. */
export function parsePort(text: string): number | undefined {
  const port = Number(text);
  return text.trim() !== '' && Number.isInteger(port) && port >= 0 && port <= 65_535 ? port : undefined;
}

/** A whole number of at least `min` from a flag's text, or undefined. */
export function parseWholeNumber(text: string, min: number): number | undefined {
  return /^\d+$/.test(text.trim()) && Number(text) >= min ? Number(text) : undefined;
}

/** --style-blend 0.7,0.3: one weight per style image, checked by the shared schema; problems are added to `problems`. */
function parseStyleBlend(text: string | undefined, styleCount: number, problems: string[]): number[] | undefined {
  if (text === undefined) return undefined;
  const weights = parseNumberList(text);
  if (weights === undefined) {
    problems.push(`--style-blend: expected comma-separated numbers, got "${text}"`);
    return undefined;
  }
  if (weights.length !== styleCount) {
    const images = `${styleCount} style image${styleCount === 1 ? '' : 's'}`;
    problems.push(`--style-blend: ${weights.length} weight${weights.length === 1 ? '' : 's'} for ${images} (give one per style image)`);
    return undefined;
  }
  const result = styleBlendSchema.safeParse(weights);
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(`${valueOfFlag('--style-blend', issue.path[0])}: ${lowerFirst(issue.message)}`);
    return undefined;
  }
  return result.data;
}

export function unknownBackendProblem(name: string): string {
  return `--backend: unknown backend "${name}" (choose ${choiceList(['auto', ...BACKEND_NAMES])})`;
}

/** A plain decimal number ("12", "-0.5", "1e3"); Number() alone would also take "", " ", "0x10" and "Infinity". */
function parseNumber(text: string): number | undefined {
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text.trim()) ? Number(text) : undefined;
}

function parseNumberList(text: string): number[] | undefined {
  const numbers = text.split(',').map(parseNumber);
  return numbers.every((n) => n !== undefined) ? (numbers as number[]) : undefined;
}

function flagForPath(path: ReadonlyArray<PropertyKey>): string {
  const [key, index] = path;
  const option = OPTION_FLAGS.find((entry) => entry.key === key);
  return valueOfFlag(option ? `--${option.flag}` : String(key ?? 'options'), index);
}

/** "--style-weights", or "--style-weights (value 2)" for one value of a list. */
function valueOfFlag(flag: string, index: PropertyKey | undefined): string {
  return index === undefined ? flag : `${flag} (value ${Number(index) + 1})`;
}

/**
 * node:util parseArgs' own error ("Unknown option '--frob'. To specify a positional argument …") as a UsageError,
 * keeping its first sentence.
 */
export function argumentSyntaxError(error: unknown): UsageError {
  const message = error instanceof Error ? error.message : String(error);
  return new UsageError([lowerFirst(message.split(/\.\s/)[0]!)]);
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** ["a", "b", "c"] → "a, b or c" */
export function choiceList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
