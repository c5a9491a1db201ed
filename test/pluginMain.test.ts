import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createContext, runInContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';

import { GramstyleMain, PANEL_SIZE, SETTINGS_KEY, TOKEN_KEY, TOKEN_SERVER_KEY } from '../plugin/main/gramstyleMain.js';
import { guessContent } from '../plugin/main/selection.js';
import { FIGMA_MAX_IMAGE_SIZE, mainToUiMessageSchema, panelSettingsSchema, THUMBNAIL_SIZE } from '../shared/pluginMessages.js';
import { FakeFigma, type FakeSceneNode } from './support/fakeFigma.js';
import { byId, HELPER_URL, pngSize, type Posted, setup, twoFrames } from './support/mainThreadTesting.js';

/**
 * The main thread's dealings with the panel: the handshake, the selection and the frames' roles, settings and the
 * token in clientStorage, and the built main.js. Export and insertion: pluginMainExport and pluginMainInsert.
 */

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

describe('GramstyleMain: the panel and the handshake', () => {
  it('opens the panel with Figma theme colours and answers ready with init and the selection', async () => {
    const { figma, send, last } = setup();
    expect(figma.ui.html).toBe('<p>panel</p>');
    expect(figma.ui.options).toMatchObject({ ...PANEL_SIZE, themeColors: true, title: 'Gramstyle' });

    await send({ type: 'ready' });
    expect(last('init')).toEqual({ type: 'init', helperUrl: HELPER_URL, settings: panelSettingsSchema.parse({}), token: null });
    expect(last('selection').selection).toEqual({ state: 'hint', hint: expect.stringMatching(/^Select two frames/) });
  });

  it('posts nothing before the panel says it is ready, and ignores malformed messages', async () => {
    const { figma, main, send } = setup();
    twoFrames(figma);
    await main.publishSelection();
    expect(figma.ui.posted).toEqual([]);

    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    await send({ type: 'export', requestId: 1, contentId: 'a', styleIds: ['b'], size: FIGMA_MAX_IMAGE_SIZE + 1, styleSize: FIGMA_MAX_IMAGE_SIZE + 1 });
    await send({ type: 'no-such-message' });
    await send('ready');
    expect(warn).toHaveBeenCalledTimes(3);
    warn.mockRestore();
    expect(figma.ui.posted).toEqual([]);
  });
});

describe('GramstyleMain: following the selection', () => {
  it('sends names, sizes and real PNG thumbnails when exactly two exportable nodes are selected', async () => {
    const { figma, send, last } = setup();
    const { content, style } = twoFrames(figma);
    await send({ type: 'ready' });
    figma.select(content, style);
    const message = await figma.ui.waitFor(
      (m): m is Posted<'selection'> => (m as Posted<'selection'>).type === 'selection' && (m as Posted<'selection'>).selection.state === 'ready',
    );
    expect(message).toEqual(last('selection'));
    const selection = last('selection').selection;
    if (selection.state !== 'ready') throw new Error('expected a pair');
    // The larger frame, the painting, is taken as the content (see the roles below).
    expect(selection.styles).toMatchObject([{ id: content.id, name: 'Photo', type: 'FRAME', width: 400, height: 300 }]);
    expect(selection.content).toMatchObject({ id: style.id, name: 'Painting', type: 'FRAME', width: 300, height: 600 });
    expect(await pngSize(selection.styles[0]!.thumbnail!)).toEqual({ width: THUMBNAIL_SIZE, height: 72, format: 'png' });
    expect(await pngSize(selection.content.thumbnail!)).toEqual({ width: 48, height: THUMBNAIL_SIZE, format: 'png' });
  });

  it('accepts frames, components, instances and groups', async () => {
    const { figma, send, last, select } = setup();
    await send({ type: 'ready' });
    const component = figma.frame('Card', { width: 200, height: 100 }, undefined, { type: 'COMPONENT' });
    const instance = figma.frame('Card instance', { x: 300, width: 200, height: 100 }, undefined, { type: 'INSTANCE' });
    const group = figma.frame('Group', { x: 600, width: 1, height: 1 }, undefined, { type: 'GROUP' });
    figma.frame('Inside', { x: 600, y: 0, width: 120, height: 80 }, { color: '#ff0000' }, { parent: group });
    for (const [a, b] of [[component, instance], [instance, group], [group, component]] as const) {
      await select(a, b);
      const selection = last('selection').selection;
      if (selection.state !== 'ready') throw new Error(`expected a pair, got: ${selection.hint}`);
      expect([selection.content, ...selection.styles].map(({ id, type }) => ({ id, type })).sort(byId)).toEqual(
        [a, b].map(({ id, type }) => ({ id, type })).sort(byId),
      );
    }
    const selection = last('selection').selection;
    expect(selection.state === 'ready' && [selection.content, ...selection.styles].find((frame) => frame.type === 'GROUP')).toMatchObject({
      width: 120,
      height: 80,
    });
  });

  it('explains in plain words what to select otherwise', async () => {
    const { figma, send, last, select } = setup();
    await send({ type: 'ready' });
    const { content, style } = twoFrames(figma);
    const swatch = (x: number) => figma.frame(`Swatch ${x}`, { x, width: 50, height: 50 });
    const [third, fourth, fifth] = [swatch(900), swatch(1000), swatch(1100)];
    const label = figma.text('Caption');
    const cases: [FakeSceneNode[], RegExp][] = [
      [[], /^Select two frames: the picture to repaint and the style/],
      [[content], /^“Photo” is selected\. Shift-click a second frame for the style\.$/],
      [[content, style, third, fourth, fifth], /^5 layers are selected\. Select two to 4 frames: the content and one to 3 styles\.$/],
      [[content, label], /^“Caption” is a text layer\. Select two frames, components, instances or groups\.$/],
    ];
    await select(content, style);
    for (const [nodes, hint] of cases) {
      await select(...nodes);
      expect(last('selection').selection).toEqual({ state: 'hint', hint: expect.stringMatching(hint) });
    }
  });
});

describe('GramstyleMain: roles', () => {
  const node = (id: string, name: string, width: number, height: number) => ({ id, name, width, height });

  it('takes a layer named “style” as a style, else the largest as the content, whatever the order', () => {
    const photo = node('1:2', 'Hero photo', 800, 600);
    const texture = node('1:3', 'Brush texture', 200, 200);
    const named = node('1:4', 'Style: Van Gogh', 2000, 2000);
    const alsoNamed = node('1:5', 'stylesheet mock', 100, 100);
    const twin = node('1:6', 'Other photo', 800, 600);
    for (const [nodes, content] of [
      [[photo, texture], photo],
      [[named, photo], photo], // the name decides, even for the larger layer
      [[named, alsoNamed], named], // both say style: size decides
      [[photo, twin], photo], // the same size: the ids decide
      [[texture, named, photo, alsoNamed], photo], // of several, the largest not named “style”
      [[named, alsoNamed, texture], texture],
    ] as const) {
      expect(guessContent(nodes)).toBe(content);
      expect(guessContent([...nodes].reverse())).toBe(content);
    }
  });

  it('gives the same frames the same roles in any selection order, and remembers the content chosen for them', async () => {
    const { figma, send, last, select } = setup();
    await send({ type: 'ready' });
    const { content: photo, style: painting } = twoFrames(figma); // the painting (300 × 600) is the larger
    const roles = () => {
      const selection = last('selection').selection;
      return selection.state === 'ready' ? [selection.content.name, ...selection.styles.map((style) => style.name)] : selection.hint;
    };

    await select(photo, painting);
    expect(roles()).toEqual(['Painting', 'Photo']);
    await select(painting, photo);
    expect(roles()).toEqual(['Painting', 'Photo']);
    await send({ type: 'set-content', frameId: photo.id });
    expect(roles()).toEqual(['Photo', 'Painting']);

    const styleNamed = figma.frame('Mosaic style', { x: 2000, width: 100, height: 100 });
    await select(styleNamed, photo);
    expect(roles()).toEqual(['Photo', 'Mosaic style']);
    await select(photo); // something else entirely, then the same pair again, picked the other way round
    await select(painting, photo);
    expect(roles()).toEqual(['Photo', 'Painting']);
    await send({ type: 'set-content', frameId: painting.id });
    expect(roles()).toEqual(['Painting', 'Photo']);
    // A frame that is not among the styles cannot become the content.
    await send({ type: 'set-content', frameId: styleNamed.id });
    expect(roles()).toEqual(['Painting', 'Photo']);
  });

  it('takes three or four frames as one content and the styles, in a stable order, each able to become the content', async () => {
    const { figma, send, last, select } = setup();
    await send({ type: 'ready' });
    const { content: photo, style: painting } = twoFrames(figma);
    const mosaic = figma.frame('Mosaic style', { x: 2000, width: 900, height: 900 }, { color: '#aa3311' });
    const dots = figma.frame('Dots', { x: 3000, width: 50, height: 50 }, { color: '#1133aa' });
    await select(dots, mosaic, photo, painting);
    const selection = last('selection').selection;
    if (selection.state !== 'ready') throw new Error(`expected frames, got: ${selection.hint}`);
    // The mosaic is the largest, but its name says style: the painting is the content.
    expect(selection.content.name).toBe('Painting');
    expect(selection.styles.map((style) => style.id)).toEqual([photo.id, mosaic.id, dots.id].sort());
    expect(await Promise.all(selection.styles.map(async (style) => (await pngSize(style.thumbnail!)).format))).toEqual(['png', 'png', 'png']);

    await send({ type: 'set-content', frameId: dots.id });
    const chosen = last('selection').selection;
    expect(chosen.state === 'ready' && [chosen.content.id, chosen.styles.map((style) => style.id)]).toEqual([
      dots.id,
      [photo.id, painting.id, mosaic.id].sort(),
    ]);
    await select(mosaic, painting, photo, dots);
    expect(last('selection').selection).toMatchObject({ state: 'ready', content: { id: dots.id } });
  });
});

describe('GramstyleMain: settings and token in clientStorage', () => {
  it('saves settings and the token, and hands them back at the next start', async () => {
    const first = setup();
    await first.send({ type: 'ready' });
    const settings = { strength: 80, size: 256, iterations: 30, preserveColors: 'luminance', styleScale: 1.5 };
    await first.send({ type: 'save-settings', settings });
    await first.send({ type: 'save-token', token: '  abc123  ' });
    expect(first.figma.storage.get(SETTINGS_KEY)).toEqual(settings);
    expect(first.figma.storage.get(TOKEN_KEY)).toBe('abc123');
    expect(first.figma.storage.get(TOKEN_SERVER_KEY)).toBe(HELPER_URL);
    await first.send({ type: 'ready' });
    expect(first.last('init')).toMatchObject({ settings, token: 'abc123' });

    await first.send({ type: 'save-token', token: null });
    expect(first.figma.storage.has(TOKEN_KEY)).toBe(false);
  });

  it('hands a token only to the server it was saved for', async () => {
    const team = 'https://style.example.com';
    const figma = new FakeFigma();
    const started = (helperUrl: string) => {
      new GramstyleMain(figma.api, { html: '<p>panel</p>', helperUrl }).start();
      return async () => {
        figma.ui.posted.length = 0;
        await figma.ui.fromPanel({ type: 'ready' });
        return mainToUiMessageSchema.parse(figma.ui.posted[0]);
      };
    };
    // A token saved before the server was kept with it is the local helper's.
    await figma.clientStorage.setAsync(TOKEN_KEY, 'old-local-token');
    expect(await started(HELPER_URL)()).toMatchObject({ type: 'init', helperUrl: HELPER_URL, token: 'old-local-token' });
    const teamInit = started(team);
    expect(await teamInit()).toMatchObject({ type: 'init', helperUrl: team, token: null });
    await figma.ui.fromPanel({ type: 'save-token', token: 'alices-token' });
    expect([figma.storage.get(TOKEN_SERVER_KEY), figma.storage.get(TOKEN_KEY)]).toEqual([team, 'alices-token']);
    expect(await teamInit()).toMatchObject({ helperUrl: team, token: 'alices-token' });
    // Rebuilt for another server: the old server's token stays unsent.
    expect(await started('https://gpu.example.org')()).toMatchObject({ token: null });
    await expect(figma.ui.fromPanel({ type: 'save-token', token: '   ' })).resolves.toBeUndefined();
    expect(figma.storage.get(TOKEN_KEY)).toBe('alices-token');
  });

  it('keeps a token for the server it was built for, whatever server the panel’s message names', async () => {
    const team = 'https://style.example.com';
    const figma = new FakeFigma();
    new GramstyleMain(figma.api, { html: '<p>panel</p>', helperUrl: team }).start();
    // A panel (or a page posting into it) that names another server gets the token kept for this build's server.
    await figma.ui.fromPanel({ type: 'save-token', helperUrl: 'https://attacker.example.net', token: 'alices-token' });
    expect([figma.storage.get(TOKEN_SERVER_KEY), figma.storage.get(TOKEN_KEY)]).toEqual([team, 'alices-token']);
    figma.ui.posted.length = 0;
    await figma.ui.fromPanel({ type: 'ready' });
    expect(mainToUiMessageSchema.parse(figma.ui.posted[0])).toMatchObject({ type: 'init', helperUrl: team, token: 'alices-token' });
    // Rebuilt for that other server, the plugin does not hand it the token.
    new GramstyleMain(figma.api, { html: '<p>panel</p>', helperUrl: 'https://attacker.example.net' }).start();
    figma.ui.posted.length = 0;
    await figma.ui.fromPanel({ type: 'ready' });
    expect(mainToUiMessageSchema.parse(figma.ui.posted[0])).toMatchObject({ token: null });
  });

  it('takes the settings an earlier version saved, with the defaults of the settings it did not have', async () => {
    const { figma, send, last } = setup();
    await figma.clientStorage.setAsync(SETTINGS_KEY, { strength: 70, size: 512, iterations: 100 });
    await send({ type: 'ready' });
    expect(last('init').settings).toEqual({ strength: 70, size: 512, iterations: 100, preserveColors: 'off', styleScale: 1 });
  });

  it('falls back to the defaults when stored settings are damaged', async () => {
    const { figma, send, last } = setup();
    await figma.clientStorage.setAsync(SETTINGS_KEY, { strength: 'lots', size: 99_999 });
    await figma.clientStorage.setAsync(TOKEN_KEY, 42);
    await send({ type: 'ready' });
    expect(last('init')).toMatchObject({ settings: panelSettingsSchema.parse({}), token: null });
  });
});

describe('the built main.js', () => {
  it('runs in a bare context like Figma’s sandbox (no DOM, no Node) and answers the panel', async () => {
    const code = await readFile(join(projectRoot, 'dist', 'plugin', 'main.js'), 'utf8');
    const figma = new FakeFigma();
    const context = createContext({ figma: figma.api, __html__: '<p>built panel</p>', console, setTimeout, clearTimeout });
    runInContext(code, context);
    expect(figma.ui.html).toBe('<p>built panel</p>');
    expect(figma.ui.options).toMatchObject({ themeColors: true });
    await figma.ui.fromPanel({ type: 'ready' });
    // Messages cross realms here, as in Figma: check shapes rather than prototypes.
    expect(figma.ui.posted[0]).toMatchObject({ type: 'init', helperUrl: 'http://localhost:7415', token: null });
  });
});
