import { describe, expect, it, vi } from 'vitest';

import { type MainNotice, MainThreadFailure } from '../plugin/ui/bridge.js';
import { FakeWindow, figmaNesting } from './support/figmaWindows.js';

/** The panel's message channel without a browser, in Figma's nesting of windows. */

const exportRequest = { type: 'export' as const, contentId: '1:2', styleIds: ['1:3'], size: 64, styleSize: 64 };

describe('MainThreadBridge', () => {
  it('posts requests to its parent and resolves each with the reply of its type, matched by requestId', async () => {
    const { bridge, fromPanel, fromFigma } = figmaNesting();
    const first = bridge.request(exportRequest);
    const second = bridge.request({ type: 'insert', contentId: '1:2', styleIds: ['1:3'], png: new Uint8Array([1, 2]) });
    const [exportId, insertId] = fromPanel().map((request) => request.requestId);
    expect(fromPanel().map((request) => request.type)).toEqual(['export', 'insert']);
    fromFigma({ type: 'inserted', requestId: insertId, nodeId: '9:9', name: 'Photo × Paint' });
    fromFigma({ type: 'exported', requestId: exportId, content: new Uint8Array([1]), styles: [new Uint8Array([2])] });
    expect(await second).toMatchObject({ type: 'inserted', name: 'Photo × Paint' });
    expect(await first).toMatchObject({ type: 'exported', content: new Uint8Array([1]) });
  });

  it('ends a request with an error for `failed`, for a reply of the wrong type, and for no reply in time', async () => {
    const { bridge, fromPanel, fromFigma } = figmaNesting(50);
    const failed = bridge.request(exportRequest);
    fromFigma({ type: 'failed', requestId: fromPanel()[0]!.requestId, message: 'The content frame is no longer in the document.' });
    await expect(failed).rejects.toEqual(new MainThreadFailure('The content frame is no longer in the document.'));

    const wrong = bridge.request(exportRequest);
    fromFigma({ type: 'inserted', requestId: fromPanel()[1]!.requestId, nodeId: '9:9', name: 'x' });
    await expect(wrong).rejects.toThrow('The plugin’s main thread answered its export request with inserted.');

    await expect(bridge.request(exportRequest)).rejects.toThrow('Figma did not answer the plugin’s export request.');
  });

  it('hears Figma from any window above the panel, and no other frame or the panel itself', () => {
    const { top, outer, network, panel, bridge } = figmaNesting();
    const notices: MainNotice[] = [];
    bridge.onNotice((notice) => notices.push(notice));
    const hint = (text: string) => ({ pluginMessage: { type: 'selection', selection: { state: 'hint', hint: text } } });
    panel.deliver(hint('from the top window'), top);
    panel.deliver(hint('from the parent'), network);
    panel.deliver(hint('from the outer iframe'), outer);
    panel.deliver(hint('from a sibling frame'), new FakeWindow(top));
    panel.deliver(hint('from a child frame'), new FakeWindow(panel));
    panel.deliver(hint('from itself'), panel);
    panel.deliver(hint('from nowhere'), null);
    panel.deliver({ type: 'selection' }, top); // not a plugin message
    expect(notices.map((notice) => notice.type === 'selection' && notice.selection.state === 'hint' && notice.selection.hint)).toEqual([
      'from the top window',
      'from the parent',
      'from the outer iframe',
    ]);
  });

  it('checks what Figma delivers against the schema', () => {
    const { bridge, fromFigma } = figmaNesting();
    const notices: MainNotice[] = [];
    bridge.onNotice((notice) => notices.push(notice));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    fromFigma({ type: 'init', helperUrl: 'not a url', settings: {}, token: null });
    fromFigma({ type: 'selection', selection: { state: 'ready' } });
    expect(warn).toHaveBeenCalledTimes(2);
    warn.mockRestore();
    expect(notices).toEqual([]);
  });
});
