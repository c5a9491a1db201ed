import type { PluginAPI } from '@figma/plugin-typings/plugin-api-standalone.js';

import {
  type MainRequestType,
  type MainToUiMessage,
  panelSettingsSchema,
  type PanelSettings,
  pairingTokenSchema,
  type ReplyTo,
  uiToMainMessageSchema,
} from '../../shared/pluginMessages.js';
import { DEFAULT_HELPER_PORT } from '../../shared/protocol.js';
import { exportFrames, insertResult, messageOf, UserFacingError } from './frameExport.js';
import { SelectionTracker } from './selectionTracker.js';

export interface GramstyleMainOptions {
  /** The panel's HTML (`__html__` in Figma). */
  readonly html: string;
  /** The helper's base URL, e.g. http://localhost:7415, handed to the panel. */
  readonly helperUrl: string;
}

/**
 * Where the helper listens: localhost, as manifest.json's networkAccess allows it (Figma accepts domain names and
 * localhost there, no IP literals; the helper answers on 127.0.0.1 for either).
 */
export const DEFAULT_HELPER_URL = `http://localhost:${DEFAULT_HELPER_PORT}`;

// Tall enough for three style cards, the strength row and Stylize without scrolling.
export const PANEL_SIZE = { width: 320, height: 720 } as const;
export const SETTINGS_KEY = 'gramstyle.settings';
export const TOKEN_KEY = 'gramstyle.pairingToken';
/** The server TOKEN_KEY's token is for. Tokens saved before it was kept were the local helper's. */
export const TOKEN_SERVER_KEY = 'gramstyle.tokenServer';

/**
 * The plugin's main thread: it answers the panel's messages, follows the selection (selectionTracker.ts), exports
 * frames and inserts results (frameExport.ts) and keeps settings; the panel does everything else. It takes the
 * `figma` API object so that tests can hand it a fake one.
 */
export class GramstyleMain {
  private uiReady = false;
  private readonly selection: SelectionTracker;
  /** Counts selection changes: a slow thumbnail export for an old selection must not overwrite a newer one. */
  private selectionSerial = 0;

  constructor(
    private readonly figma: PluginAPI,
    private readonly options: GramstyleMainOptions,
  ) {
    this.selection = new SelectionTracker(figma);
  }

  start(): void {
    this.figma.showUI(this.options.html, { ...PANEL_SIZE, title: 'Gramstyle', themeColors: true });
    // Figma does not wait for the handler; receive() returns its promise only so that tests can.
    this.figma.ui.onmessage = (message: unknown) => this.receive(message);
    this.figma.on('selectionchange', () => void this.publishSelection());
    this.figma.on('currentpagechange', () => void this.publishSelection());
  }

  /** Handles one message from the panel; resolves once it is answered. */
  async receive(raw: unknown): Promise<void> {
    const parsed = uiToMainMessageSchema.safeParse(raw);
    if (!parsed.success) {
      console.warn('Gramstyle: ignored a malformed message from the panel', parsed.error.issues);
      return;
    }
    const message = parsed.data;
    switch (message.type) {
      case 'ready':
        this.uiReady = true;
        this.post({ type: 'init', helperUrl: this.options.helperUrl, ...(await this.loadStoredSettings()) });
        return this.publishSelection();
      case 'set-content':
        this.selection.chooseContent(message.frameId);
        return this.publishSelection();
      case 'save-settings':
        return this.figma.clientStorage.setAsync(SETTINGS_KEY, message.settings);
      case 'save-token':
        if (message.token === null) return this.figma.clientStorage.deleteAsync(TOKEN_KEY);
        // For the server this build talks to: a message cannot send the token's next use elsewhere.
        await this.figma.clientStorage.setAsync(TOKEN_SERVER_KEY, this.options.helperUrl);
        return this.figma.clientStorage.setAsync(TOKEN_KEY, message.token);
      case 'export':
        return this.answer(message, () => exportFrames(this.figma, message));
      case 'insert':
        return this.answer(message, () => insertResult(this.figma, message, this.selection.results));
      case 'notify':
        this.figma.notify(message.message, { error: message.error });
        return;
    }
  }

  async publishSelection(): Promise<void> {
    const serial = ++this.selectionSerial;
    const selection = await this.selection.describe();
    if (this.uiReady && serial === this.selectionSerial) this.post({ type: 'selection', selection });
  }

  private post(message: MainToUiMessage): void {
    this.figma.ui.postMessage(message);
  }

  private async loadStoredSettings(): Promise<{ settings: PanelSettings; token: string | null }> {
    const [storedSettings, storedToken, tokenServer] = await Promise.all([
      this.figma.clientStorage.getAsync(SETTINGS_KEY),
      this.figma.clientStorage.getAsync(TOKEN_KEY),
      this.figma.clientStorage.getAsync(TOKEN_SERVER_KEY),
    ]);
    // Settings saved by an older version, or damaged, fall back to the defaults rather than break the panel.
    const settings = panelSettingsSchema.safeParse(storedSettings ?? {});
    const token = pairingTokenSchema.safeParse(storedToken);
    // A token goes only to the server it was saved for (an organisation may rebuild its plugin for another server).
    const forThisServer = (tokenServer ?? DEFAULT_HELPER_URL) === this.options.helperUrl;
    return {
      settings: settings.success ? settings.data : panelSettingsSchema.parse({}),
      token: token.success && forThisServer ? token.data : null,
    };
  }

  /** Answers one request of the panel with its reply, or `failed` (telling the user through Figma too) if it throws. */
  private async answer<T extends MainRequestType>(request: { requestId: number; type: T }, work: () => Promise<ReplyTo<T>>): Promise<void> {
    try {
      this.post(await work());
    } catch (error) {
      const message = error instanceof UserFacingError ? error.message : `Gramstyle: ${messageOf(error)}`;
      this.figma.notify(message, { error: true });
      this.post({ type: 'failed', requestId: request.requestId, message });
    }
  }
}
