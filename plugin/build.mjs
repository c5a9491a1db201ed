// Builds the Figma plugin with esbuild: plugin/main → dist/plugin/main.js (Figma's sandbox, one script) and
// plugin/ui → dist/plugin/ui.html, one self-contained file with the script and CSS inline, as Figma loads only
// that file into the iframe. manifest.json points at both.
//
//   node plugin/build.mjs [--watch] [--outdir DIR] [--server URL]
//
// --server bakes in the server the plugin talks to (a team's gateway) instead of the local helper; `gramstyle plugin
// build` uses it and writes the manifest that allows that server.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const pluginDir = dirname(fileURLToPath(import.meta.url));
const projectRoot = resolve(pluginDir, '..');
const templatePath = join(pluginDir, 'ui', 'index.html');

const { values } = parseArgs({
  options: {
    watch: { type: 'boolean', default: false },
    outdir: { type: 'string', default: join(projectRoot, 'dist', 'plugin') },
    server: { type: 'string' },
  },
});
const outdir = resolve(values.outdir);
const watch = values.watch;

/**
 * zod re-exports all its ~50 message locales as a namespace, which keeps every one in a bundle; Gramstyle speaks
 * English (zod's default, imported on its own), so the namespace is reduced to that one.
 */
const englishZodOnly = {
  name: 'english-zod-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]/.test(args.importer) ? { path: 'zod-locales', namespace: 'english-zod-only' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'english-zod-only' }, () => ({
      contents: `export { default as en } from ${JSON.stringify(zodEnglishLocale)};`,
      loader: 'js',
      resolveDir: projectRoot,
    }));
  },
};
const zodEnglishLocale = join(projectRoot, 'node_modules', 'zod', 'v4', 'locales', 'en.js');

/** Figma's sandbox runs modern JavaScript but no modules: one classic script. */
const mainOptions = {
  entryPoints: [join(pluginDir, 'main', 'index.ts')],
  outfile: join(outdir, 'main.js'),
  bundle: true,
  format: 'iife',
  target: 'es2020',
  platform: 'neutral',
  mainFields: ['module', 'main'],
  logLevel: 'info',
  legalComments: 'none',
  // plugin/main/index.ts reads it: null means the local helper.
  define: { __GRAMSTYLE_SERVER__: JSON.stringify(values.server ?? null) },
  plugins: [englishZodOnly],
};

/** The panel: bundled in memory, then poured into the HTML template by inlineUi(). */
const uiOptions = {
  entryPoints: [join(pluginDir, 'ui', 'index.ts')],
  outdir: join(outdir, 'ui-parts'),
  write: false,
  bundle: true,
  format: 'iife',
  target: 'es2020',
  platform: 'browser',
  minify: true,
  logLevel: 'warning', // its output files stay in memory; inlineUi() reports the one written
  legalComments: 'none',
  plugins: [
    englishZodOnly,
    {
      name: 'inline-ui-html',
      setup(build) {
        // The template is no import of the entry, so tell watch mode to rebuild when it changes.
        build.onLoad({ filter: /[\\/]plugin[\\/]ui[\\/]index\.ts$/ }, async (args) => ({
          contents: await readFile(args.path, 'utf8'),
          loader: 'ts',
          watchFiles: [templatePath],
        }));
        build.onEnd(async (result) => {
          if (result.errors.length === 0) await inlineUi(result.outputFiles ?? []);
        });
      },
    },
  ],
};

async function inlineUi(outputFiles) {
  const js = outputFiles.find((file) => file.path.endsWith('.js'))?.text ?? '';
  const css = outputFiles.find((file) => file.path.endsWith('.css'))?.text ?? '';
  // Inline code must not close its own element early.
  const safeJs = js.replace(/<\/(script)/gi, '<\\/$1');
  const safeCss = css.replace(/<\/(style)/gi, '<\\/$1');
  const template = await readFile(templatePath, 'utf8');
  const html = template
    .replace(/<style>\s*\/\* gramstyle:css \*\/\s*<\/style>/, () => `<style>${safeCss}</style>`)
    .replace(/<script>\s*\/\* gramstyle:js \*\/\s*<\/script>/, () => `<script>${safeJs}</script>`);
  if (html.includes('gramstyle:css') || html.includes('gramstyle:js')) {
    throw new Error(`${templatePath} lost its gramstyle:css or gramstyle:js placeholder`);
  }
  await mkdir(outdir, { recursive: true });
  await writeFile(join(outdir, 'ui.html'), html);
  console.log(`plugin: wrote ${join(outdir, 'ui.html')} (${Math.round(html.length / 1024)} KB)`);
}

if (watch) {
  const contexts = await Promise.all([esbuild.context(mainOptions), esbuild.context(uiOptions)]);
  await Promise.all(contexts.map((context) => context.watch()));
  console.log('plugin: watching plugin/ and shared/ (Ctrl-C stops)');
} else {
  await Promise.all([esbuild.build(mainOptions), esbuild.build(uiOptions)]);
}
