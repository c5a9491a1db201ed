import {
  type MainRequest,
  type MainRequestType,
  type MainToUiMessage,
  mainToUiMessageSchema,
  REPLY_TYPE,
  type ReplyTo,
  type UiToMainMessage,
} from '../../shared/pluginMessages.js';

/** What the main thread says on its own, not in answer to a request: init and selection. */
export type MainNotice = Exclude<MainToUiMessage, { requestId: number }>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A request as the panel writes it; the bridge numbers it. */
export type MainRequestBody<T extends MainRequestType> = DistributiveOmit<Extract<MainRequest, { type: T }>, 'requestId'>;

/** The main thread could not do what was asked; it has told the user through figma.notify already. */
export class MainThreadFailure extends Error {}

/** Long enough for Figma to export two frames at 4096 px; a request still unanswered then will not be. */
export const REPLY_TIMEOUT_MS = 120_000;

/**
 * The panel's end of the plugin's message channel. The panel posts `parent.postMessage({pluginMessage}, '*')`, which
 * Figma relays to the main thread. Figma loads the panel as the innermost of nested iframes and delivers the main
 * thread's messages (`{pluginMessage}` message events) from its top window, not from `window.parent`: so a message
 * counts when it comes from a window above the panel, any of which may be Figma's, and never from another frame (a
 * sibling, a child, a popup) or the panel itself. Everything received is checked against the shared schemas.
 */
export class MainThreadBridge {
  private nextRequestId = 1;
  /** Settles each request still waiting for its reply, by requestId. */
  private readonly pending = new Map<number, (reply: MainToUiMessage | Error) => void>();
  private readonly listeners = new Set<(notice: MainNotice) => void>();
  private readonly figmaWindows: ReadonlySet<unknown>;

  constructor(
    private readonly panel: Window = window,
    private readonly replyTimeoutMs = REPLY_TIMEOUT_MS,
  ) {
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

  /**
   * Sends a request and resolves with its reply (REPLY_TYPE). Rejects with MainThreadFailure when the main thread
   * answers `failed`, and with an Error for any other answer or none in time, so that no caller waits forever.
   */
  request<T extends MainRequestType>(message: MainRequestBody<T> & { type: T }): Promise<ReplyTo<T>> {
    const requestId = this.nextRequestId++;
    const { type } = message;
    return new Promise<ReplyTo<T>>((resolve, reject) => {
      const timer = setTimeout(
        () => settle(new Error(`Figma did not answer the plugin’s ${type} request. Close the plugin and run it again.`)),
        this.replyTimeoutMs,
      );
      const settle = (reply: MainToUiMessage | Error) => {
        clearTimeout(timer);
        this.pending.delete(requestId);
        if (reply instanceof Error) reject(reply);
        else if (reply.type === REPLY_TYPE[type]) resolve(reply as ReplyTo<T>);
        else if (reply.type === 'failed') reject(new MainThreadFailure(reply.message));
        else reject(new Error(`The plugin’s main thread answered its ${type} request with ${reply.type}.`));
      };
      this.pending.set(requestId, settle);
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
      this.pending.get(message.requestId)?.(message);
      return;
    }
    for (const listener of this.listeners) listener(message);
  }
}

/** Every window above `panel`, up to the top one. */
function ancestorsOf(panel: Window): Set<unknown> {
  const ancestors = new Set<unknown>();
  for (let frame = panel; frame.parent !== frame; frame = frame.parent) ancestors.add(frame.parent);
  return ancestors;
}
