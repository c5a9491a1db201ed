import { describe, expect, it } from 'vitest';

import { longSideConstraint } from '../plugin/main/geometry.js';
import { FIGMA_MAX_IMAGE_SIZE } from '../shared/pluginMessages.js';
import { MAX_SIZE } from '../shared/stylizeOptions.js';
import { pngSize, setup, twoFrames } from './support/mainThreadTesting.js';

/** The main thread exports the frames of a job as PNG, at the sizes the panel asks for. */

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
