import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { PLACEMENT_GAP, placeBeside } from '../plugin/main/geometry.js';
import { FakeRectangleNode, type FakeSceneNode } from './support/fakeFigma.js';
import { pngSize, setup, solidPng, twoFrames } from './support/mainThreadTesting.js';

/** The main thread inserts a result beside its content frame: where, how big, and what it never touches. */

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
