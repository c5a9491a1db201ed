import { MainThreadBridge } from '../../plugin/ui/bridge.js';

/**
 * The panel's windows without a browser: EventTargets with Figma's nesting (top → outer → network → panel); a message
 * event carries its source window, as the browser's does.
 */
export class FakeWindow extends EventTarget {
  parent: FakeWindow = this;
  readonly posted: unknown[] = [];
  /** Called with each message posted to this window (after it is recorded). */
  onPost: ((data: unknown) => void) | null = null;

  constructor(parent?: FakeWindow) {
    super();
    if (parent) this.parent = parent;
  }

  postMessage(data: unknown): void {
    const copy = structuredClone(data);
    this.posted.push(copy);
    this.onPost?.(copy);
  }

  /** Delivers `data` to this window as coming from `source`. */
  deliver(data: unknown, source: FakeWindow | null): void {
    this.dispatchEvent(Object.assign(new Event('message'), { data: structuredClone(data), source }));
  }
}

/** A panel's bridge in Figma's nesting; `fromFigma` delivers a main-thread message as Figma does, from the top window. */
export function figmaNesting(replyTimeoutMs?: number) {
  const top = new FakeWindow();
  const outer = new FakeWindow(top);
  const network = new FakeWindow(outer);
  const panel = new FakeWindow(network);
  const bridge = new MainThreadBridge(panel as unknown as Window, replyTimeoutMs);
  /** The messages the panel posted (to its parent, as Figma expects). */
  const fromPanel = () => network.posted.map((data) => (data as { pluginMessage: { requestId: number; type: string } }).pluginMessage);
  const fromFigma = (message: unknown) => panel.deliver({ pluginMessage: message, pluginId: '1' }, top);
  return { top, outer, network, panel, bridge, fromPanel, fromFigma };
}
