import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';

/**
 * Gramstyle's own sample frames, drawn in code so that the demo needs no downloaded pictures: a content frame
 * (a small landscape poster) and two style frames (bold, colourful brush strokes; a warm tile mosaic, to blend with
 * the strokes). Shapes only, no text: fonts may be missing on the machine that renders them.
 */

export const CONTENT_FRAME_SIZE = { width: 600, height: 400 } as const;
export const STYLE_FRAME_SIZE = { width: 512, height: 512 } as const;

/** A landscape at sunset: sky gradient, sun, two rows of hills, a house with a path and a tree. */
export function contentFrameSvg(): string {
  const { width, height } = CONTENT_FRAME_SIZE;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 600 400">
  <defs>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#1e4f9c"/>
      <stop offset="0.55" stop-color="#7fa7d9"/>
      <stop offset="1" stop-color="#f5c27a"/>
    </linearGradient>
    <radialGradient id="glow">
      <stop offset="0.45" stop-color="#fff2a8" stop-opacity="0.9"/>
      <stop offset="1" stop-color="#fff2a8" stop-opacity="0"/>
    </radialGradient>
  </defs>
  <rect width="600" height="400" fill="url(#sky)"/>
  <circle cx="440" cy="150" r="95" fill="url(#glow)"/>
  <circle cx="440" cy="150" r="46" fill="#ffd34d"/>
  <path d="M0 250 Q90 170 190 230 T390 215 T600 225 V400 H0 Z" fill="#6d5f9e"/>
  <path d="M0 300 Q140 230 280 285 T600 270 V400 H0 Z" fill="#3f8f4a"/>
  <path d="M0 345 Q200 300 380 340 T600 330 V400 H0 Z" fill="#2c6b35"/>
  <path d="M212 318 Q230 350 200 400 H250 Q265 350 232 318 Z" fill="#e9d6a8"/>
  <rect x="160" y="238" width="120" height="82" fill="#efe2c8"/>
  <polygon points="148,242 220,186 292,242" fill="#b5372b"/>
  <rect x="208" y="272" width="26" height="48" fill="#6a4126"/>
  <rect x="174" y="256" width="24" height="22" fill="#8fd0f0" stroke="#ffffff" stroke-width="3"/>
  <rect x="244" y="256" width="24" height="22" fill="#8fd0f0" stroke="#ffffff" stroke-width="3"/>
  <rect x="252" y="196" width="14" height="30" fill="#7a2a22"/>
  <rect x="86" y="262" width="12" height="56" fill="#6b4423"/>
  <circle cx="92" cy="246" r="30" fill="#2e7d32"/>
  <circle cx="74" cy="262" r="20" fill="#388e3c"/>
  <circle cx="110" cy="262" r="20" fill="#388e3c"/>
</svg>`;
}

/** Blues and teal first (the ground's bands), then the bright colours of swirls and dabs. */
const STYLE_PALETTE = [
  ...['#0d2c6e', '#1f5fbf', '#59a5e8', '#1fa79a'],
  ...['#ffd21f', '#ff8a1f', '#e2362b', '#c2187a', '#f7f3e3'],
];

/**
 * Brush-stroke texture: wavy bands over a deep blue ground, swirls, then short dabs, all in strong colours.
 * Procedural and repeatable: the same seed draws the same frame.
 */
export function styleFrameSvg(seed = 7): string {
  const { width, height } = STYLE_FRAME_SIZE;
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const between = (low: number, high: number) => low + random() * (high - low);
  const strokes: string[] = [];
  const stroke = (points: Array<[number, number]>, colour: string, strokeWidth: number, opacity = 0.92) => {
    const d = points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${x.toFixed(1)} ${y.toFixed(1)}`).join(' ');
    strokes.push(
      `<path d="${d}" fill="none" stroke="${colour}" stroke-width="${strokeWidth.toFixed(1)}" ` +
        `stroke-linecap="round" stroke-linejoin="round" opacity="${opacity}"/>`,
    );
  };

  // Wavy bands across the whole frame, like long loaded-brush strokes.
  for (let band = 0; band < 34; band++) {
    const y0 = between(-20, height + 20);
    const amplitude = between(8, 28);
    const wavelength = between(90, 220);
    const phase = between(0, 2 * Math.PI);
    const tilt = between(-0.25, 0.25);
    const points: Array<[number, number]> = [];
    for (let x = -20; x <= width + 20; x += 8) {
      points.push([x, y0 + tilt * x + amplitude * Math.sin((2 * Math.PI * x) / wavelength + phase)]);
    }
    stroke(points, pick(STYLE_PALETTE.slice(0, 4)), between(10, 24));
  }

  // Swirls: Archimedean spirals of bright paint.
  for (let swirl = 0; swirl < 9; swirl++) {
    const cx = between(40, width - 40);
    const cy = between(40, height - 40);
    const turns = between(2, 3.5);
    const spacing = between(7, 12);
    const direction = random() < 0.5 ? 1 : -1;
    const points: Array<[number, number]> = [];
    for (let angle = 0; angle <= turns * 2 * Math.PI; angle += 0.2) {
      const radius = 4 + (spacing * angle) / Math.PI;
      points.push([cx + radius * Math.cos(direction * angle), cy + radius * Math.sin(direction * angle)]);
    }
    stroke(points, pick(['#ffd21f', '#f7f3e3', '#ff8a1f', '#59a5e8']), between(5, 10));
  }

  // Short dabs in every direction.
  for (let dab = 0; dab < 260; dab++) {
    const x = between(0, width);
    const y = between(0, height);
    const angle = between(0, Math.PI);
    const length = between(8, 26);
    const bend = between(-6, 6);
    const dx = Math.cos(angle) * length;
    const dy = Math.sin(angle) * length;
    stroke(
      [
        [x, y],
        [x + dx / 2 - (dy / length) * bend, y + dy / 2 + (dx / length) * bend],
        [x + dx, y + dy],
      ],
      pick(STYLE_PALETTE.slice(3)),
      between(3, 7),
      0.95,
    );
  }

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
  <rect width="${width}" height="${height}" fill="#0d2c6e"/>
  ${strokes.join('\n  ')}
</svg>`;
}

/** Warm earth and fire colours, far from the brush strokes' blues: a blend of the two shows both. */
const MOSAIC_PALETTE = ['#7a1f12', '#b8361c', '#e0662a', '#f2a03d', '#f7d27a', '#5b3a1e', '#c9572b'];

/**
 * A mosaic of irregular tiles: a jittered grid of quadrilaterals in warm colours, set in dark grout. Its texture is
 * square and regular where the brush strokes are round and flowing. Repeatable through the seed.
 */
export function mosaicFrameSvg(seed = 11): string {
  const { width, height } = STYLE_FRAME_SIZE;
  const random = mulberry32(seed);
  const tile = 32;
  const columns = width / tile;
  const rows = height / tile;
  // The grid's corners, each moved a little, so that neighbouring tiles share their edges.
  const corners = Array.from({ length: rows + 1 }, (_, row) =>
    Array.from({ length: columns + 1 }, (_, column) => {
      const jitter = () => (random() - 0.5) * tile * 0.5;
      const onEdge = (index: number, last: number) => index === 0 || index === last;
      return [column * tile + (onEdge(column, columns) ? 0 : jitter()), row * tile + (onEdge(row, rows) ? 0 : jitter())] as const;
    }),
  );
  const tiles: string[] = [];
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      const points = [corners[row]![column]!, corners[row]![column + 1]!, corners[row + 1]![column + 1]!, corners[row + 1]![column]!];
      const colour = MOSAIC_PALETTE[Math.floor(random() * MOSAIC_PALETTE.length)]!;
      tiles.push(`<polygon points="${points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}" fill="${colour}"/>`);
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
  <rect width="${width}" height="${height}" fill="#2a1a10"/>
  <g stroke="#2a1a10" stroke-width="4" stroke-linejoin="round">
  ${tiles.join('\n  ')}
  </g>
</svg>`;
}

/** Renders the frames to PNG files in `dir` (created if missing). */
export async function renderSampleFrames(dir: string): Promise<{ content: string; style: string; mosaic: string }> {
  await mkdir(dir, { recursive: true });
  const content = join(dir, 'content.png');
  const style = join(dir, 'style.png');
  const mosaic = join(dir, 'mosaic.png');
  await Promise.all([
    sharp(Buffer.from(contentFrameSvg())).png().toFile(content),
    sharp(Buffer.from(styleFrameSvg())).png().toFile(style),
    sharp(Buffer.from(mosaicFrameSvg())).png().toFile(mosaic),
  ]);
  return { content, style, mosaic };
}

/** A small, fast, seedable PRNG (Tommy Ettinger's Mulberry32): uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
