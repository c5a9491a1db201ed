import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BACKEND_NAMES } from '../helper/engine/index.js';
import { MIN_SIZE } from '../shared/stylizeOptions.js';
import { realWeightsPath } from './support/sharedAssets.js';

/** These tests run the real CLI, as users do: `node bin/gramstyle.js …` on the built dist/. */
const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cliPath = join(projectRoot, 'bin', 'gramstyle.js');

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

let dir: string;
let contentPath: string;
let stylePath: string;
/** Where a user's weights would be cached: empty, so nothing is found or downloaded there by accident. */
let cacheHome: string;

function gramstyle(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const startedAt = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: dir,
      // TMPDIR: the demo's sample frames land in the test's folder and go with it.
      env: { ...process.env, XDG_CACHE_HOME: cacheHome, TMPDIR: dir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      resolvePromise({ code, stdout, stderr, seconds: (performance.now() - startedAt) / 1000 });
    });
  });
}

beforeAll(async () => {
  if (!existsSync(join(projectRoot, 'dist', 'helper', 'cli', 'main.js'))) {
    execFileSync('npm', ['run', 'build'], { cwd: projectRoot, stdio: 'inherit' });
  }
  dir = await mkdtemp(join(tmpdir(), 'gramstyle-cli-'));
  cacheHome = join(dir, 'cache');
  // A non-square content (3:2) and a striped style.
  contentPath = join(dir, 'content.png');
  stylePath = join(dir, 'style.jpg');
  const gradient = Buffer.alloc(90 * 60 * 3);
  for (let i = 0; i < 90 * 60; i++) gradient.set([(i % 90) * 2, Math.floor(i / 90) * 4, 120], i * 3);
  await sharp(gradient, { raw: { width: 90, height: 60, channels: 3 } }).png().toFile(contentPath);
  const stripes = Buffer.alloc(64 * 64 * 3);
  for (let i = 0; i < 64 * 64; i++) {
    const diagonal = (i % 64) + Math.floor(i / 64);
    stripes.set(diagonal % 16 < 8 ? [230, 180, 20] : [20, 40, 160], i * 3);
  }
  await sharp(stripes, { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toFile(stylePath);
}, 300_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('gramstyle stylize: wrong input fails fast and says why', () => {
  // A weights path that does not exist: a command that got as far as loading weights would complain about it.
  const noWeights = () => ({ GRAMSTYLE_WEIGHTS: join(dir, 'no-such-weights.h5') });

  /** Runs the CLI, expects exactly `lines` on stderr (each prefixed "gramstyle: "), nothing on stdout. */
  async function expectFailure(args: string[], exitCode: number, lines: string[]): Promise<void> {
    const result = await gramstyle(args, noWeights());
    expect(result.stderr.trimEnd().split('\n')).toEqual(lines.map((line) => `gramstyle: ${line}`));
    expect(result.stdout).toBe('');
    expect(result.code).toBe(exitCode);
    expect(result.seconds).toBeLessThan(15);
  }

  it('a missing content file', async () => {
    const missing = join(dir, 'missing.png');
    await expectFailure(['stylize', missing, stylePath, '-o', join(dir, 'out.png')], 1, [
      `content image ${missing}: file not found`,
    ]);
  });

  it('a style file that is not an image', async () => {
    const text = join(dir, 'notes.txt');
    await writeFile(text, 'not an image\n');
    await expectFailure(['stylize', contentPath, text, '-o', join(dir, 'out.png')], 1, [
      `style image ${text}: not a PNG, JPEG or WebP image`,
    ]);
  });

  it('--size 0, checked by the shared options schema', async () => {
    await expectFailure(['stylize', contentPath, stylePath, '-o', join(dir, 'out.png'), '--size', '0'], 2, [
      `--size: too small: expected number to be >=${MIN_SIZE}`,
    ]);
  });

  it('a numeric flag that is not a number', async () => {
    await expectFailure(['stylize', contentPath, stylePath, '-o', join(dir, 'out.png'), '--iterations', '12abc'], 2, [
      '--iterations: expected a number, got "12abc"',
    ]);
  });

  it('an unknown backend', async () => {
    await expectFailure(['stylize', contentPath, stylePath, '-o', join(dir, 'out.png'), '--backend', 'foo'], 2, [
      '--backend: unknown backend "foo" (choose auto, tensorflow-gpu, onnxruntime-cuda, onnxruntime-dml, onnxruntime-coreml, onnxruntime-webgpu, onnxruntime, tensorflow, wasm or cpu)',
    ]);
  });

  it('a missing -o', async () => {
    await expectFailure(['stylize', contentPath, stylePath], 2, [
      'stylize: missing -o <out.png>, the file to write the result to',
    ]);
  });

  it('several problems at once, one line each', async () => {
    await expectFailure(['stylize', contentPath, '--size', 'big', '--strength', '101', '--style-weights', '1,1'], 2, [
      'stylize: missing the style image',
      'stylize: missing -o <out.png>, the file to write the result to',
      '--size: expected a number, got "big"',
      '--strength: too big: expected number to be <=100',
      '--style-weights: too small: expected array to have exactly 5 items',
    ]);
  });

  it('bad creative controls: colours, brush size, style weights, too many style images', async () => {
    await expectFailure(
      ['stylize', contentPath, stylePath, '-o', 'x.png', '--preserve-colors', 'grey', '--style-scale', '3'],
      2,
      [
        '--preserve-colors: invalid option: expected one of "off"|"luminance"|"histogram"',
        '--style-scale: too big: expected number to be <=2',
      ],
    );
    await expectFailure(['stylize', contentPath, stylePath, stylePath, '-o', 'x.png', '--style-blend', '0.7'], 2, [
      '--style-blend: 1 weight for 2 style images (give one per style image)',
    ]);
    await expectFailure(['stylize', contentPath, stylePath, stylePath, '-o', 'x.png', '--style-blend', '0,0'], 2, [
      '--style-blend: at least one style weight must be positive',
    ]);
    await expectFailure(['stylize', contentPath, stylePath, '-o', 'x.png', '--style-blend=-1'], 2, [
      '--style-blend (value 1): too small: expected number to be >=0',
      '--style-blend: at least one style weight must be positive',
    ]);
    const styles = ['a.png', 'b.png', 'c.png', 'd.png', 'e.png'];
    await expectFailure(['stylize', contentPath, ...styles, '-o', 'x.png'], 2, [
      'stylize: unexpected argument "e.png" (at most 4 style images)',
    ]);
  });

  it('a missing style image among several, named by its number', async () => {
    const missing = join(dir, 'missing-style.png');
    await expectFailure(['stylize', contentPath, stylePath, missing, '-o', join(dir, 'out.png')], 1, [
      `style image 2 ${missing}: file not found`,
    ]);
  });

  it('an unknown option or command', async () => {
    await expectFailure(['stylize', contentPath, stylePath, '-o', 'x.png', '--colour', 'red'], 2, [
      "unknown option '--colour'",
    ]);
    await expectFailure(['paint'], 2, ['unknown command "paint" (choose stylize, doctor, demo, serve, pair, service, gateway, worker, users, batch or plugin, or help)']);
  });
});

describe('gramstyle with the real VGG-19 weights', () => {
  const withWeights = () => ({ GRAMSTYLE_WEIGHTS: realWeightsPath() });

  it('stylize --json writes the PNG at the requested size and prints one JSON line', async () => {
    const output = join(dir, 'nested', 'folder', 'result.png');
    const result = await gramstyle(
      ['stylize', contentPath, stylePath, '-o', output, '--size', '60', '--iterations', '8', '--json'],
      withWeights(),
    );
    expect(result.code, result.stderr).toBe(0);

    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(report).sort()).toEqual(
      ['backend', 'contentLoss', 'height', 'iterations', 'seconds', 'secondsPerIteration', 'styleLoss', 'width'].sort(),
    );
    // 90 × 60 content, long side 60 → 60 × 40.
    expect(report).toMatchObject({ width: 60, height: 40, iterations: 8 });
    expect(BACKEND_NAMES).toContain(report['backend']);
    expect(report['seconds']).toBeGreaterThan(0);
    expect(report['secondsPerIteration']).toBeCloseTo((report['seconds'] as number) / 8, 2);
    for (const loss of ['contentLoss', 'styleLoss']) {
      expect(Number.isFinite(report[loss]) && (report[loss] as number) >= 0, `${loss} = ${report[loss]}`).toBe(true);
    }

    const written = await sharp(await readFile(output)).metadata();
    expect([written.format, written.width, written.height]).toEqual(['png', 60, 40]);
  });

  it('stylize blends two style images, keeps the content colours and takes a brush size', async () => {
    const output = join(dir, 'blend.png');
    const otherStyle = join(dir, 'other-style.png');
    await sharp({ create: { width: 40, height: 40, channels: 3, background: '#c02020' } })
      .composite([{ input: Buffer.from('<svg width="40" height="40"><circle cx="20" cy="20" r="12" fill="#20c040"/></svg>') }])
      .png()
      .toFile(otherStyle);
    const args = ['stylize', contentPath, stylePath, otherStyle, '-o', output, '--style-blend', '0.7,0.3'];
    const controls = ['--preserve-colors', 'luminance', '--style-scale', '0.5', '--size', '48', '--iterations', '4'];
    const result = await gramstyle([...args, ...controls], withWeights());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${output}\n`);
    const [written, content] = await Promise.all(
      [output, contentPath].map((path) => sharp(path).resize(48, 32, { fit: 'fill' }).raw().toBuffer()),
    );
    // Luminance only: the result has the content's chrominance (YIQ's I and Q, within rounding).
    const chrominance = (rgb: Buffer, i: number): [number, number] => {
      const [r, g, b] = [rgb[i]!, rgb[i + 1]!, rgb[i + 2]!];
      return [0.596 * r - 0.274 * g - 0.322 * b, 0.211 * r - 0.523 * g + 0.312 * b];
    };
    let difference = 0;
    for (let i = 0; i < written!.length; i += 3) {
      const [a, b] = [chrominance(written!, i), chrominance(content!, i)];
      difference += Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]);
    }
    expect(difference / (written!.length / 3) / 2).toBeLessThan(1.5);
  });

  it('doctor names the chosen backend, why each better one was skipped, and the weights', async () => {
    const weights = realWeightsPath();
    const result = await gramstyle(['doctor'], withWeights());
    expect(result.code, result.stdout + result.stderr).toBe(0);

    const chosen = /^backend: ([\w-]+): .+$/m.exec(result.stdout)?.[1];
    expect(BACKEND_NAMES, result.stdout).toContain(chosen);
    const better = BACKEND_NAMES.slice(0, BACKEND_NAMES.indexOf(chosen as (typeof BACKEND_NAMES)[number]));
    for (const name of better) expect(result.stdout).toMatch(new RegExp(`^  skipped ${name}: \\S.*$`, 'm'));

    expect(result.stdout).toContain(`weights: ${weights} (given with GRAMSTYLE_WEIGHTS)`);
    expect(result.stdout).toContain(`verified: ${weights}`);
  });

  it('doctor reports weights that do not exist and exits 1', async () => {
    const missing = join(dir, 'missing.h5');
    const result = await gramstyle(['doctor', '--weights', missing], withWeights());
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`weights: ${missing} (given with --weights)`);
    expect(result.stdout).toMatch(/not usable: .*does not exist/);
  });

  it('demo stylizes the built-in sample frames', async () => {
    const output = join(dir, 'demo.png');
    const result = await gramstyle(['demo', '-o', output, '--size', '48', '--iterations', '2'], withWeights());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${output}\n`);
    const written = await sharp(output).metadata();
    // The sample content frame is 3:2.
    expect([written.format, written.width, written.height]).toEqual(['png', 48, 32]);
  });
});

describe('gramstyle help and --version', () => {
  it('prints the usage and the version', async () => {
    const help = await gramstyle(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('gramstyle stylize <content> <style> [<style> …] -o <out.png>');
    expect(help.stdout).toContain('--preserve-colors off|luminance|histogram');
    const version = await gramstyle(['--version']);
    const manifest = JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout).toBe(`${manifest.version}\n`);
  });
});
