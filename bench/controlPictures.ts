/**
 * npm run pictures [-- --backend NAME] [--weights FILE] [--out docs/controls]
 *
 * Renders the README's pictures of the creative controls from Gramstyle's own sample frames (helper/samples: the
 * landscape, the brush strokes and the mosaic), through the same image preparation as the CLI and the helper:
 * - colors-{off,luminance,histogram}.png: the landscape in the brush strokes' style, with each colour mode;
 * - blend-{mosaic,both}.png: the mosaic alone, and the two styles blended half and half (the strokes alone are
 *   colors-off.png);
 * - brush-{0.5,2}.png: small and large brush sizes (1 is colors-off.png);
 * - strength-row.png: the strength row around 50 (35, 45, 55, 65), as the panel shows it;
 * - sample-{content,strokes,mosaic}.png: the frames themselves.
 * It prints how long each took, the strength row's time included.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { isBackendChoice, renderStrengthRow, type RgbImage } from '../helper/engine/index.js';
import { decodeImage, encodePng, prepareStylizeImages, resizeToLongSide } from '../helper/imageio/index.js';
import { loadEngine } from '../helper/loadEngine.js';
import { renderSampleFrames } from '../helper/samples/frames.js';
import { strengthRow, strengthRowOptions } from '../shared/strengthRow.js';
import { stylizeOptionsSchema, type StylizeOptionsInput } from '../shared/stylizeOptions.js';
import { defaultWeightsPath } from './benchAssets.js';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'auto' },
    weights: { type: 'string' },
    out: { type: 'string', default: 'docs/controls' },
  },
});
if (!isBackendChoice(args.backend)) throw new Error(`--backend: unknown backend ${args.backend}`);

/** Small enough for the README's table cells, large enough to see strokes; one scale, long enough to converge. */
const PICTURE_OPTIONS: StylizeOptionsInput = { size: 160, iterations: 100, multiScale: 'off', strength: 60 };
const ROW_GAP = 4;

const out = resolve(args.out);
await mkdir(out, { recursive: true });
const frames = await renderSampleFrames(await mkdtemp(join(tmpdir(), 'gramstyle-pictures-')));
const engine = await loadEngine({ backend: args.backend, weightsFlag: defaultWeightsPath(args.weights) });
console.log(`backend ${engine.backend.name}: ${engine.backend.device}`);

const save = async (name: string, image: RgbImage): Promise<void> => writeFile(join(out, name), await encodePng(image));

/** One job on the sample landscape: the styles (paths) with their weights, the options over PICTURE_OPTIONS. */
async function stylize(name: string, styles: Array<{ path: string; weight: number }>, input: StylizeOptionsInput = {}) {
  const options = stylizeOptionsSchema.parse({ ...PICTURE_OPTIONS, ...input });
  const images = await prepareStylizeImages(frames.content, styles.map((style) => style.path), options);
  const weighted = images.styles.map((image, index) => ({ image, weight: styles[index]!.weight }));
  const result = await engine.transfer.run({ content: images.content, styles: weighted, options });
  await save(name, result.image);
  console.log(`${name}: ${(result.elapsedMs / 1000).toFixed(1)} s`);
}

try {
  const thumbnail = async (path: string, name: string) =>
    save(name, await resizeToLongSide(await decodeImage(path, 'sample frame'), PICTURE_OPTIONS.size!));
  await thumbnail(frames.content, 'sample-content.png');
  await thumbnail(frames.style, 'sample-strokes.png');
  await thumbnail(frames.mosaic, 'sample-mosaic.png');

  const strokes = { path: frames.style, weight: 1 };
  const mosaic = { path: frames.mosaic, weight: 1 };
  for (const preserveColors of ['off', 'luminance', 'histogram'] as const) {
    await stylize(`colors-${preserveColors}.png`, [strokes], { preserveColors });
  }
  await stylize('blend-mosaic.png', [mosaic]);
  await stylize('blend-both.png', [strokes, mosaic]);
  for (const styleScale of [0.5, 2]) await stylize(`brush-${styleScale}.png`, [strokes], { styleScale });

  // The strength row as the helper renders it: the row's size and iterations, around 50.
  const options = strengthRowOptions(stylizeOptionsSchema.parse({ strength: 50 }));
  const images = await prepareStylizeImages(frames.content, [frames.style], options);
  const row = await renderStrengthRow(engine.transfer, {
    content: images.content,
    styles: images.styles.map((image) => ({ image, weight: 1 })),
    strengths: strengthRow(options.strength),
    options,
  });
  console.log(`strength row (${row.images.map((entry) => entry.strength).join(', ')}): ${(row.elapsedMs / 1000).toFixed(1)} s`);
  const { width, height } = row.images[0]!.image;
  const strip = sharp({
    create: { width: row.images.length * (width + ROW_GAP) - ROW_GAP, height, channels: 3, background: '#ffffff' },
  }).composite(
    await Promise.all(
      row.images.map(async ({ image }, index) => ({ input: await encodePng(image), left: index * (width + ROW_GAP), top: 0 })),
    ),
  );
  await strip.png().toFile(join(out, 'strength-row.png'));
} finally {
  engine.dispose();
}
