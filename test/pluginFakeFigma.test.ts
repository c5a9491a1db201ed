import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { FakeFigma, imageSize } from './support/fakeFigma.js';
import { pngSize } from './support/mainThreadTesting.js';
import { sharedImagePath } from './support/sharedAssets.js';

/** The fake `figma` the main thread's tests run on (test/support/fakeFigma.ts) behaves as Figma's documented API. */

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
