import {
  type MainToUiMessage,
  mainToUiMessageSchema,
  type UiToMainMessage,
} from '../../shared/pluginMessages.js';

/** Answers to a request of the panel, matched to it by requestId. */
export type MainReply = Extract<MainToUiMessage, { requestId: number }>;
/** What the main thread says on its own: init and selection. */
export type MainNotice = Exclude<MainToUiMessage, MainReply>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type MainRequest = DistributiveOmit<Extract<UiToMainMessage, { requestId: number }>, 'requestId'>;

/**
 * The panel's end of the plugin's message channel. The panel posts `parent.postMessage({pluginMessage}, '*')`, which
 * Figma relays to the main thread. Figma loads the panel as the innermost of nested iframes and delivers the main
 * thread's messages (`{pluginMessage}` message events) from its top window, not from `window.parent`: so a message
 * counts when it comes from a window above the panel, any of which may be Figma's, and never from another frame (a
 * sibling, a child, a popup) or the panel itself. Everything received is checked against the shared schemas.
 */
export class MainThreadBridge {
  private nextRequestId = 1;
  private readonly pending = new Map<number, (reply: MainReply) => void>();
  private readonly listeners = new Set<(notice: MainNotice) => void>();
  private readonly figmaWindows: ReadonlySet<MessageEventSource>;

  constructor(private readonly panel: Window = window) {
    this.figmaWindows = ancestorsOf(panel);
    panel.addEventListener('message', (event: MessageEvent) => {
      if (event.source === null || !this.figmaWindows.has(event.source)) return;
      const data: unknown = event.data;
      if (data && typeof data === 'object' && 'pluginMessage' in data) this.receive(data.pluginMessage);
    });
  }

  post(message: UiToMainMessage): void {
    this.panel.parent.postMessage({ pluginMessage: message }, '*');
  }

  /** Sends a request and resolves with the main thread's answer to it. */
  request(message: MainRequest): Promise<MainReply> {
    const requestId = this.nextRequestId++;
    return new Promise((resolve) => {
      this.pending.set(requestId, resolve);
      this.post({ ...message, requestId } as UiToMainMessage);
    });
  }

  onNotice(listener: (notice: MainNotice) => void): void {
    this.listeners.add(listener);
  }

  private receive(raw: unknown): void {
    const parsed = mainToUiMessageSchema.safeParse(raw);
    if (!parsed.success) {
      console.warn('Gramstyle: ignored a malformed message from the main thread', parsed.error.issues);
      return;
    }
    const message = parsed.data;
    if ('requestId' in message) {
      const resolve = this.pending.get(message.requestId);
      this.pending.delete(message.requestId);
      resolve?.(message);
      return;
    }
    for (const listener of this.listeners) listener(message);
  }
}

/** Every window above `panel`, up to the top one. */
function ancestorsOf(panel: Window): Set<MessageEventSource> {
  const ancestors = new Set<MessageEventSource>();
  for (let frame = panel; frame.parent !== frame; frame = frame.parent) ancestors.add(frame.parent);
  return ancestors;
}
