import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createContext, runInContext } from 'node:vm';
import sharp from 'sharp';
import { describe, expect, it, vi } from 'vitest';

import { GramstyleMain, PANEL_SIZE, SETTINGS_KEY, TOKEN_KEY, TOKEN_SERVER_KEY } from '../plugin/main/gramstyleMain.js';
import { longSideConstraint, PLACEMENT_GAP, placeBeside } from '../plugin/main/geometry.js';
import { guessContent } from '../plugin/main/selection.js';
import {
  FIGMA_MAX_IMAGE_SIZE,
  type MainToUiMessage,
  mainToUiMessageSchema,
  type MessageOf,
  panelSettingsSchema,
  THUMBNAIL_SIZE,
} from '../shared/pluginMessages.js';
import { MAX_SIZE } from '../shared/stylizeOptions.js';
import { FakeFigma, FakeRectangleNode, type FakeSceneNode, imageSize } from './support/fakeFigma.js';
import { sharedImagePath } from './support/sharedAssets.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HELPER_URL = 'http://localhost:7415';

type Posted<T extends MainToUiMessage['type']> = MessageOf<MainToUiMessage, T>;

function setup() {
  const figma = new FakeFigma();
  const main = new GramstyleMain(figma.api, { html: '<p>panel</p>', helperUrl: HELPER_URL });
  main.start();
  /** Sends a panel message and waits until the main thread has handled it. */
  const send = async (message: unknown) => {
    await figma.ui.fromPanel(message);
  };
  /** Every message of one type the main thread posted, each checked against the shared schema. */
  const posted = <T extends MainToUiMessage['type']>(type: T): Posted<T>[] =>
    figma.ui.posted
      .map((message) => mainToUiMessageSchema.parse(message))
      .filter((message): message is Posted<T> => message.type === type);
  const last = <T extends MainToUiMessage['type']>(type: T): Posted<T> => {
    const all = posted(type);
    const message = all[all.length - 1];
    if (!message) throw new Error(`the main thread posted no ${type}`);
    return message;
  };
  /** Waits until the main thread has said all it will about earlier selection changes (Figma reports them late). */
  const settle = async () => {
    for (let count = -1; count !== figma.ui.posted.length; ) {
      count = figma.ui.posted.length;
      await new Promise((resolvePromise) => setTimeout(resolvePromise, 30));
    }
  };
  /** Selects nodes as a user would and waits for the main thread to tell the panel. */
  const select = async (...nodes: FakeSceneNode[]) => {
    await settle();
    const before = posted('selection').length;
    figma.currentPage.selection = nodes;
    await until(() => posted('selection').length > before);
    await settle();
  };
  return { figma, main, send, posted, last, select };
}

const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the main thread');
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 5));
  }
}

async function pngSize(bytes: Uint8Array): Promise<{ width: number; height: number; format: string }> {
  const { width, height, format } = await sharp(bytes).metadata();
  return { width: width ?? 0, height: height ?? 0, format: format ?? '' };
}

function solidPng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#3366cc' } }).png().toBuffer();
}

/** A content frame (in a parent frame, between siblings) and a style frame, as a designer would have them. */
function twoFrames(figma: FakeFigma) {
  const board = figma.frame('Board', { x: 0, y: 0, width: 3000, height: 2000 });
  const content = figma.frame('Photo', { x: 100, y: 200, width: 400, height: 300 }, { image: sharedImagePath('golden_gate.jpg') }, { parent: board });
  const style = figma.frame('Painting', { x: 100, y: 800, width: 300, height: 600 }, { image: sharedImagePath('starry_night.jpg') }, { parent: board });
  return { board, content, style };
}

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

describe('GramstyleMain: export', () => {
  it('exports both as PNG with the requested long side, by width or by height', async () => {
    const { figma, send, last } = setup();
    await send({ type: 'ready' });
    const { content, style } = twoFrames(figma);
    await send({ type: 'export', requestId: 7, contentId: content.id, styleIds: [style.id], size: 512, styleSize: 512 });
    const exported = last('exported');
    expect(exported.requestId).toBe(7);
    expect(await pngSize(exported.content)).toEqual({ width: 512, height: 384, format: 'png' });
    expect(await pngSize(exported.styles[0]!)).toEqual({ width: 256, height: 512, format: 'png' });
    const constraintOf = (id: string) => figma.exports.findLast((entry) => entry.nodeId === id)?.constraint;
    expect(constraintOf(content.id)).toEqual({ type: 'WIDTH', value: 512 });
    expect(constraintOf(style.id)).toEqual({ type: 'HEIGHT', value: 512 });
  });

  it('exports each of several styles at its own size: the brush size times the output’s', async () => {
    const { figma, send, last } = setup();
    await send({ type: 'ready' });
    const { content, style } = twoFrames(figma);
    const mosaic = figma.frame('Mosaic', { x: 2000, width: 200, height: 100 }, { color: '#aa3311' });
    await send({ type: 'export', requestId: 2, contentId: content.id, styleIds: [style.id, mosaic.id], size: 256, styleSize: 128 });
    const exported = last('exported');
    expect(await pngSize(exported.content)).toEqual({ width: 256, height: 192, format: 'png' });
    expect(await Promise.all(exported.styles.map(pngSize))).toEqual([
      { width: 64, height: 128, format: 'png' },
      { width: 128, height: 64, format: 'png' },
    ]);
  });

  it('scales small frames up and stays within Figma’s 4096 px', async () => {
    expect(MAX_SIZE).toBeLessThanOrEqual(FIGMA_MAX_IMAGE_SIZE);
    expect(longSideConstraint(100, 50, 99_999)).toEqual({ type: 'WIDTH', value: 4096 });
    expect(longSideConstraint(50, 50, 64)).toEqual({ type: 'WIDTH', value: 64 });

    const { figma, send, last } = setup();
    await send({ type: 'ready' });
    const small = figma.frame('Icon', { width: 100, height: 50 }, { color: '#00aa55' });
    const tall = figma.frame('Strip', { x: 200, width: 10, height: 40 }, { color: '#aa0055' });
    await send({ type: 'export', requestId: 1, contentId: small.id, styleIds: [tall.id], size: 4096, styleSize: 4096 });
    const exported = last('exported');
    expect(await pngSize(exported.content)).toEqual({ width: 4096, height: 2048, format: 'png' });
    expect(await pngSize(exported.styles[0]!)).toEqual({ width: 1024, height: 4096, format: 'png' });
  });

  it('reports a frame that is gone or cannot be exported, in the panel and through figma.notify', async () => {
    const { figma, send, last } = setup();
    await send({ type: 'ready' });
    const { content, style } = twoFrames(figma);
    style.remove();
    await send({ type: 'export', requestId: 3, contentId: content.id, styleIds: [style.id], size: 256, styleSize: 256 });
    expect(last('failed')).toEqual({ type: 'failed', requestId: 3, message: 'The style frame is no longer in the document. Select the frames again.' });

    const other = figma.frame('Broken', { x: 900, width: 100, height: 100 });
    other.exportFailure = 'Cannot export an invisible node';
    await send({ type: 'export', requestId: 4, contentId: content.id, styleIds: [other.id], size: 256, styleSize: 256 });
    expect(last('failed')).toEqual({ type: 'failed', requestId: 4, message: 'Figma could not export “Broken”: Cannot export an invisible node' });
    expect(figma.notifications).toEqual([
      { message: 'The style frame is no longer in the document. Select the frames again.', error: true },
      { message: 'Figma could not export “Broken”: Cannot export an invisible node', error: true },
    ]);
  });
});

describe('GramstyleMain: inserting the result', () => {
  it('adds a rectangle with the image, sized like the content, to its right in the same parent, as one undo step', async () => {
    const { figma, send, last } = setup();
    await send({ type: 'ready' });
    const { board, content, style } = twoFrames(figma);
    const png = await solidPng(512, 384);
    await send({ type: 'insert', requestId: 9, contentId: content.id, styleIds: [style.id], png: new Uint8Array(png) });

    const inserted = last('inserted');
    expect(inserted).toMatchObject({ requestId: 9, name: 'Photo × Painting' });
    const rectangle = board.children.find((node) => node.id === inserted.nodeId);
    if (!(rectangle instanceof FakeRectangleNode)) throw new Error('no rectangle in the content’s parent');
    expect(board.children.indexOf(rectangle)).toBe(board.children.indexOf(content) + 1);
    expect({ x: rectangle.x, y: rectangle.y, width: rectangle.width, height: rectangle.height }).toEqual({
      x: 100 + 400 + PLACEMENT_GAP,
      y: 200,
      width: 400,
      height: 300,
    });
    expect(rectangle.name).toBe('Photo × Painting');
    const [fill] = rectangle.fills;
    expect(fill).toEqual({ type: 'IMAGE', imageHash: expect.stringMatching(/^[0-9a-f]{40}$/), scaleMode: 'FILL' });
    const image = figma.images.get((fill as { imageHash: string }).imageHash);
    expect(image && { width: image.width, height: image.height }).toEqual({ width: 512, height: 384 });
    expect(Buffer.from(image!.bytes).equals(png)).toBe(true);

    expect(figma.currentPage.selection).toEqual([rectangle]);
    expect(figma.scrolledIntoView).toEqual([[rectangle.id]]);
    expect(figma.undoCommits).toEqual([figma.allNodes().length]);
    expect(figma.notifications).toEqual([{ message: 'Inserted “Photo × Painting”', error: false }]);
  });

  it('keeps the pair in the panel while the inserted result is selected, to stylize again', async () => {
    const { figma, send, last, select } = setup();
    await send({ type: 'ready' });
    const { content, style } = twoFrames(figma);
    await select(content, style);
    await send({ type: 'set-content', frameId: content.id }); // the photo is the content now
    await send({ type: 'insert', requestId: 1, contentId: content.id, styleIds: [style.id], png: new Uint8Array(await solidPng(64, 48)) });
    const rectangle = (await figma.getNodeByIdAsync(last('inserted').nodeId)) as FakeSceneNode;
    expect(figma.currentPage.selection).toEqual([rectangle]);
    // The panel hears of the new selection and keeps the pair, with the content chosen.
    await select(rectangle);
    expect(last('selection').selection).toMatchObject({ state: 'ready', content: { id: content.id }, styles: [{ id: style.id }] });

    await select(content);
    expect(last('selection').selection.state).toBe('hint');
    await select(rectangle);
    expect(last('selection').selection.state).toBe('hint'); // the pair was let go
  });

  it('names a blend after all its styles', async () => {
    const { figma, send, last } = setup();
    await send({ type: 'ready' });
    const { content, style } = twoFrames(figma);
    const mosaic = figma.frame('Mosaic', { x: 2000, width: 200, height: 100 }, { color: '#aa3311' });
    await send({ type: 'insert', requestId: 1, contentId: content.id, styleIds: [style.id, mosaic.id], png: new Uint8Array(await solidPng(64, 48)) });
    expect(last('inserted').name).toBe('Photo × Painting + Mosaic');
  });

  it('puts another copy further right instead of on top of the first', async () => {
    const { figma, send, posted } = setup();
    await send({ type: 'ready' });
    const { board, content, style } = twoFrames(figma);
    const png = new Uint8Array(await solidPng(64, 48));
    await send({ type: 'insert', requestId: 1, contentId: content.id, styleIds: [style.id], png });
    await send({ type: 'insert', requestId: 2, contentId: content.id, styleIds: [style.id], png });
    const [first, second] = posted('inserted').map((message) => board.children.find((node) => node.id === message.nodeId));
    expect(first?.x).toBe(540);
    expect(second?.x).toBe(540 + 400 + PLACEMENT_GAP);
    expect(second?.y).toBe(200);
    expect(figma.undoCommits).toHaveLength(2);
    expect(placeBeside({ x: 0, y: 0, width: 10, height: 10 }, { width: 10, height: 10 }, [{ x: 0, y: 50, width: 100, height: 10 }])).toEqual({
      x: 50,
      y: 0,
    });
  });

  it('refuses bytes Figma cannot take (not an image, over 4096 px) and leaves nothing behind', async () => {
    const { figma, send, posted } = setup();
    await send({ type: 'ready' });
    const { content, style } = twoFrames(figma);
    const nodesBefore = figma.allNodes().length;
    await send({ type: 'insert', requestId: 1, contentId: content.id, styleIds: [style.id], png: new TextEncoder().encode('not a picture') });
    const tooWide = await sharp({ create: { width: 4097, height: 8, channels: 3, background: '#000' } }).png().toBuffer();
    await send({ type: 'insert', requestId: 2, contentId: content.id, styleIds: [style.id], png: new Uint8Array(tooWide) });

    expect(posted('failed')).toEqual([
      { type: 'failed', requestId: 1, message: 'Figma could not take the result image: Image type is unsupported' },
      { type: 'failed', requestId: 2, message: expect.stringMatching(/^Figma could not take the result image: Image is too large/) },
    ]);
    expect(figma.notifications.map((note) => note.error)).toEqual([true, true]);
    expect(figma.allNodes()).toHaveLength(nodesBefore);
    expect(figma.undoCommits).toEqual([]);
  });

  it('puts the result of a frame inside an instance on the page, beside the frame and clear of the instance', async () => {
    const { figma, send, last } = setup();
    await send({ type: 'ready' });
    const instance = figma.frame('Card', { x: 1000, y: 500, width: 300, height: 300 }, undefined, { type: 'INSTANCE' });
    const inner = figma.frame('Card photo', { x: 20, y: 30, width: 100, height: 80 }, { color: '#123456' }, { parent: instance });
    const style = figma.frame('Paint style', { x: 0, y: 0, width: 100, height: 100 });
    await send({ type: 'insert', requestId: 1, contentId: inner.id, styleIds: [style.id], png: new Uint8Array(await solidPng(64, 51)) });
    const rectangle = figma.currentPage.children.find((node) => node.id === last('inserted').nodeId);
    expect(rectangle && { x: rectangle.x, y: rectangle.y, width: rectangle.width, height: rectangle.height }).toEqual({
      x: 1000 + 300 + PLACEMENT_GAP, // right of the frame would be on the instance, so right of the instance
      y: 530,
      width: 100,
      height: 80,
    });
    expect(rectangle?.name).toBe('Card photo × Paint style');
  });

  /** Inserts a 64 × 48 result for `content` and returns the rectangle. */
  async function insertFor(harness: ReturnType<typeof setup>, content: FakeSceneNode, png?: Buffer): Promise<FakeRectangleNode> {
    const style = harness.figma.frame('Paint style', { x: -500, y: -500, width: 100, height: 100 });
    await harness.send({ type: 'insert', requestId: 1, contentId: content.id, styleIds: [style.id], png: new Uint8Array(png ?? (await solidPng(64, 48))) });
    const rectangle = await harness.figma.getNodeByIdAsync(harness.last('inserted').nodeId);
    if (!(rectangle instanceof FakeRectangleNode)) throw new Error('no rectangle was inserted');
    return rectangle;
  }
  const boxOf = (node: FakeSceneNode) => node.absoluteBoundingBox;

  it('keeps out of auto layout: the row keeps its size and order, the result stands beside it in the free parent', async () => {
    const harness = setup();
    const { figma } = harness;
    await harness.send({ type: 'ready' });
    const board = figma.frame('Board', { width: 3000, height: 2000 });
    const row = figma.frame('Cards', { x: 100, y: 100, width: 10, height: 300 }, undefined, { parent: board });
    Object.assign(row, { layoutMode: 'HORIZONTAL', primaryAxisSizingMode: 'AUTO', itemSpacing: 20, paddingLeft: 10, paddingRight: 10 });
    const cards = [0, 1, 2].map((index) => figma.frame(`Card ${index}`, { width: 400, height: 300 }, { color: '#336699' }, { parent: row }));
    const before = { row: boxOf(row), cards: cards.map(boxOf) };
    expect(before.row).toEqual({ x: 100, y: 100, width: 10 + 3 * 400 + 2 * 20 + 10, height: 300 });
    expect(before.cards.map((box) => box.x)).toEqual([110, 530, 950]);

    const rectangle = await insertFor(harness, cards[0]!);
    expect(rectangle.parent).toBe(board);
    expect({ row: boxOf(row), cards: cards.map(boxOf) }).toEqual(before);
    expect(row.children).toEqual(cards);
    // Beside the card would be on the next card, inside the row: so beside the row, top-aligned with the card.
    expect(boxOf(rectangle)).toEqual({ x: 100 + before.row.width + PLACEMENT_GAP, y: 100, width: 400, height: 300 });
    expect(board.children.indexOf(rectangle)).toBe(board.children.indexOf(row) + 1);
  });

  it('goes where it can be seen: into a clipping frame only when it fits, else into the nearest parent that shows it', async () => {
    const harness = setup();
    const { figma } = harness;
    await harness.send({ type: 'ready' });
    const board = figma.frame('Board', { x: 1000, y: 1000, width: 2000, height: 1500 });
    const tight = figma.frame('Tight crop', { x: 50, y: 60, width: 300, height: 400 }, undefined, { parent: board });
    const photo = figma.frame('Photo', { x: 20, y: 30, width: 200, height: 150 }, { color: '#884422' }, { parent: tight });
    const roomy = figma.frame('Roomy', { x: 50, y: 600, width: 900, height: 400 }, undefined, { parent: board });
    const other = figma.frame('Other photo', { x: 20, y: 30, width: 200, height: 150 }, { color: '#224488' }, { parent: roomy });

    const hidden = await insertFor(harness, photo);
    // Right of the photo (x 1070 + 200 + 40 on the page) would cross the crop's right edge (1050 + 300): clipped.
    expect(tight.clipsContent).toBe(true);
    expect(hidden.parent).toBe(board);
    expect(boxOf(hidden)).toEqual({ x: 1000 + 50 + 300 + PLACEMENT_GAP, y: 1000 + 60 + 30, width: 200, height: 150 });

    const fits = await insertFor(harness, other);
    expect(fits.parent).toBe(roomy);
    expect({ x: fits.x, y: fits.y }).toEqual({ x: 20 + 200 + PLACEMENT_GAP, y: 30 });

    tight.clipsContent = false;
    const shown = await insertFor(harness, photo);
    expect(shown.parent).toBe(tight);
    expect(boxOf(shown)).toEqual({ x: 1000 + 50 + 20 + 200 + PLACEMENT_GAP, y: 1090, width: 200, height: 150 });
  });

  it('never writes into an instance or a main component, even through a frame nested in one', async () => {
    const harness = setup();
    const { figma } = harness;
    await harness.send({ type: 'ready' });
    const board = figma.frame('Board', { width: 3000, height: 2000 });
    board.clipsContent = false;
    const card = figma.frame('Card', { x: 100, y: 100, width: 600, height: 400 }, undefined, { type: 'INSTANCE', parent: board });
    const media = figma.frame('Media', { x: 0, y: 0, width: 600, height: 300 }, undefined, { parent: card });
    media.clipsContent = false;
    const picture = figma.frame('Picture', { x: 10, y: 10, width: 120, height: 90 }, { color: '#123456' }, { parent: media });
    expect(() => media.appendChild(figma.createRectangle())).toThrow('Cannot move node. New parent is an instance or is inside of an instance');

    const fromInstance = await insertFor(harness, picture);
    expect(fromInstance.parent).toBe(board);
    expect(boxOf(fromInstance)).toEqual({ x: 100 + 600 + PLACEMENT_GAP, y: 110, width: 120, height: 90 });

    const component = figma.frame('Button', { x: 100, y: 1000, width: 800, height: 400 }, undefined, { type: 'COMPONENT', parent: board });
    const icon = figma.frame('Icon', { x: 10, y: 10, width: 64, height: 48 }, { color: '#654321' }, { parent: component });
    const fromComponent = await insertFor(harness, icon);
    expect(fromComponent.parent).toBe(board);
    expect(component.children).toEqual([icon]);
  });

  it('shows the whole export undistorted: a shadowed frame’s result has the render bounds’ size and place', async () => {
    const harness = setup();
    const { figma } = harness;
    await harness.send({ type: 'ready' });
    const card = figma.frame('Shadowed card', { x: 200, y: 300, width: 400, height: 300 }, { color: '#eeeeee' });
    card.effects = [{ type: 'DROP_SHADOW', color: { r: 0, g: 0, b: 0, a: 0.3 }, offset: { x: 0, y: 20 }, radius: 30, spread: 0, visible: true, blendMode: 'NORMAL' }];
    expect(card.absoluteRenderBounds).toEqual({ x: 170, y: 290, width: 460, height: 360 });

    // What the panel would send: the export at 230 px wide (the helper keeps its aspect), stylized.
    const style = figma.frame('Paint style', { x: -500, y: -500, width: 100, height: 100 });
    await harness.send({ type: 'export', requestId: 1, contentId: card.id, styleIds: [style.id], size: 230, styleSize: 230 });
    const exported = await pngSize(harness.last('exported').content);
    expect(exported).toEqual({ width: 230, height: 180, format: 'png' });

    const rectangle = await insertFor(harness, card, await solidPng(exported.width, exported.height));
    expect(boxOf(rectangle)).toEqual({ x: 170 + 460 + PLACEMENT_GAP, y: 290, width: 460, height: 360 });
    expect(rectangle.width / rectangle.height).toBeCloseTo(230 / 180, 9);
  });

  it('loads the content’s page before inserting when it is not the current one (dynamic-page access)', async () => {
    const harness = setup();
    const { figma } = harness;
    await harness.send({ type: 'ready' });
    const archive = figma.page('Archive');
    const old = figma.frame('Old photo', { x: 0, y: 0, width: 320, height: 240 }, { color: '#777777' }, { parent: archive });
    expect(() => archive.appendChild(figma.createRectangle())).toThrow(/not loaded/);

    const rectangle = await insertFor(harness, old);
    expect(archive.loaded).toBe(true);
    expect(rectangle.parent).toBe(archive);
    expect(harness.figma.scrolledIntoView).toEqual([]); // another page: selected there, not scrolled to
  });

  it('still inserts when the style frame was deleted meanwhile, and fails clearly when the content was', async () => {
    const { figma, send, last } = setup();
    await send({ type: 'ready' });
    const { content, style } = twoFrames(figma);
    const png = new Uint8Array(await solidPng(64, 48));
    style.remove();
    await send({ type: 'insert', requestId: 1, contentId: content.id, styleIds: [style.id], png });
    expect(last('inserted').name).toBe('Photo × style');
    content.remove();
    await send({ type: 'insert', requestId: 2, contentId: content.id, styleIds: [style.id], png });
    expect(last('failed').message).toBe('The content frame is no longer in the document. Select the frames again.');
  });
});

describe('GramstyleMain: settings and token in clientStorage', () => {
  it('saves settings and the token, and hands them back at the next start', async () => {
    const first = setup();
    await first.send({ type: 'ready' });
    const settings = { strength: 80, size: 256, iterations: 30, preserveColors: 'luminance', styleScale: 1.5 };
    await first.send({ type: 'save-settings', settings });
    await first.send({ type: 'save-token', helperUrl: HELPER_URL, token: '  abc123  ' });
    expect(first.figma.storage.get(SETTINGS_KEY)).toEqual(settings);
    expect(first.figma.storage.get(TOKEN_KEY)).toBe('abc123');
    expect(first.figma.storage.get(TOKEN_SERVER_KEY)).toBe(HELPER_URL);
    await first.send({ type: 'ready' });
    expect(first.last('init')).toMatchObject({ settings, token: 'abc123' });

    await first.send({ type: 'save-token', helperUrl: HELPER_URL, token: null });
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
    await figma.ui.fromPanel({ type: 'save-token', helperUrl: team, token: 'alices-token' });
    expect([figma.storage.get(TOKEN_SERVER_KEY), figma.storage.get(TOKEN_KEY)]).toEqual([team, 'alices-token']);
    expect(await teamInit()).toMatchObject({ helperUrl: team, token: 'alices-token' });
    // Rebuilt for another server: the old server's token stays unsent.
    expect(await started('https://gpu.example.org')()).toMatchObject({ token: null });
    await expect(figma.ui.fromPanel({ type: 'save-token', helperUrl: 'not a url', token: 'x' })).resolves.toBeUndefined();
    expect(figma.storage.get(TOKEN_KEY)).toBe('alices-token');
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

describe('the fake figma behaves like the documented API', () => {
  it('exports real PNG or JPEG bytes at SCALE, WIDTH and HEIGHT constraints', async () => {
    const figma = new FakeFigma();
    const frame = figma.frame('F', { width: 200, height: 100 }, { image: sharedImagePath('the_scream.jpg') });
    expect(await pngSize(await frame.exportAsync({ format: 'PNG', constraint: { type: 'SCALE', value: 0.5 } }))).toEqual({ width: 100, height: 50, format: 'png' });
    expect(await pngSize(await frame.exportAsync({ format: 'PNG', constraint: { type: 'WIDTH', value: 64 } }))).toEqual({ width: 64, height: 32, format: 'png' });
    expect(await pngSize(await frame.exportAsync({ format: 'JPG', constraint: { type: 'HEIGHT', value: 10 } }))).toEqual({ width: 20, height: 10, format: 'jpeg' });
    expect(await pngSize(await frame.exportAsync())).toEqual({ width: 200, height: 100, format: 'png' });
  });

  it('lays out auto-layout children itself, ignoring their x and y unless they are absolutely positioned', () => {
    const figma = new FakeFigma();
    const column = figma.frame('Column', { width: 200, height: 10 });
    Object.assign(column, { layoutMode: 'VERTICAL', primaryAxisSizingMode: 'AUTO', itemSpacing: 8, paddingTop: 16, paddingBottom: 16 });
    const [a, b] = ['A', 'B'].map((name) => figma.frame(name, { x: 500, y: 500, width: 200, height: 50 }, undefined, { parent: column }));
    expect([a!.y, b!.y, column.height]).toEqual([16, 16 + 50 + 8, 16 + 50 + 8 + 50 + 16]);
    a!.y = 300;
    expect(a!.y).toBe(16);
    column.appendChild(figma.createRectangle()); // a new child joins the flow and the column grows
    expect(column.height).toBe(16 + 50 + 8 + 50 + 8 + 100 + 16);
    b!.layoutPositioning = 'ABSOLUTE';
    b!.y = 300;
    expect([b!.y, column.height]).toEqual([300, 16 + 50 + 8 + 100 + 16]);
  });

  it('exports the render bounds: shadows and children sticking out of a frame that does not clip', async () => {
    const figma = new FakeFigma();
    const frame = figma.frame('F', { x: 100, y: 100, width: 200, height: 100 }, { color: '#ffffff' });
    figma.frame('Sticker', { x: 150, y: 50, width: 100, height: 100 }, { color: '#ff0000' }, { parent: frame });
    expect(frame.clipsContent).toBe(true);
    expect(frame.absoluteRenderBounds).toEqual({ x: 100, y: 100, width: 200, height: 100 });
    frame.clipsContent = false;
    expect(frame.absoluteRenderBounds).toEqual({ x: 100, y: 100, width: 250, height: 150 });
    frame.effects = [{ type: 'DROP_SHADOW', color: { r: 0, g: 0, b: 0, a: 1 }, offset: { x: 0, y: 10 }, radius: 5, visible: true, blendMode: 'NORMAL' }];
    expect(frame.absoluteRenderBounds).toEqual({ x: 95, y: 100, width: 255, height: 150 });
    // The constraint applies to the rendered area: its width becomes 510 px.
    expect(await pngSize(await frame.exportAsync({ format: 'PNG', constraint: { type: 'WIDTH', value: 510 } }))).toEqual({ width: 510, height: 300, format: 'png' });
    frame.visible = false;
    expect(frame.absoluteRenderBounds).toBeNull();
  });

  it('createImage takes PNG, JPEG and GIF up to 4096 px and rejects anything else', async () => {
    const figma = new FakeFigma();
    const picture = sharp({ create: { width: 30, height: 20, channels: 3, background: '#888' } });
    for (const bytes of [await picture.clone().png().toBuffer(), await picture.clone().jpeg().toBuffer(), await picture.clone().gif().toBuffer()]) {
      expect(imageSize(bytes)).toEqual({ width: 30, height: 20 });
      expect(figma.createImage(new Uint8Array(bytes)).hash).toMatch(/^[0-9a-f]{40}$/);
    }
    const webp = new Uint8Array(await picture.clone().webp().toBuffer());
    expect(() => figma.createImage(webp)).toThrow('Image type is unsupported');
    const edge = await sharp({ create: { width: 4096, height: 1, channels: 3, background: '#888' } }).png().toBuffer();
    expect(() => figma.createImage(new Uint8Array(edge))).not.toThrow();
    const tall = await sharp({ create: { width: 1, height: 4097, channels: 3, background: '#888' } }).png().toBuffer();
    expect(() => figma.createImage(new Uint8Array(tall))).toThrow(/too large/);
  });

  it('puts new rectangles on the current page, refuses unknown image hashes and reports selection changes', async () => {
    const figma = new FakeFigma();
    const rectangle = figma.createRectangle();
    expect(rectangle.parent).toBe(figma.currentPage);
    expect(() => {
      rectangle.fills = [{ type: 'IMAGE', imageHash: 'f'.repeat(40), scaleMode: 'FILL' }];
    }).toThrow(/not an image/);
    const changed = new Promise<void>((resolvePromise) => figma.on('selectionchange', resolvePromise));
    figma.select(rectangle);
    await changed;
    expect(figma.currentPage.selection).toEqual([rectangle]);
  });
});
