import type { BaseNode, PageNode, PluginAPI, SceneNode } from '@figma/plugin-typings/plugin-api-standalone.js';

import {
  type FrameSummary,
  type MainRequestType,
  type MainToUiMessage,
  type MessageOf,
  panelSettingsSchema,
  type PanelSettings,
  pairingTokenSchema,
  type ReplyTo,
  type SelectionState,
  THUMBNAIL_SIZE,
  type UiToMainMessage,
  uiToMainMessageSchema,
} from '../../shared/pluginMessages.js';
import { DEFAULT_HELPER_PORT } from '../../shared/protocol.js';
import { longSideConstraint } from './geometry.js';
import { placeResult, renderedBox } from './placement.js';
import { type ExportableNode, guessContent, isExportable, readSelection } from './selection.js';

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

/** An error whose message is written for the user, shown as it is. */
class UserFacingError extends Error {}

/**
 * The plugin's main thread: it follows the selection, exports frames, inserts results and keeps settings; the panel
 * does everything else. It takes the `figma` API object so that tests can hand it a fake one.
 */
export class GramstyleMain {
  private uiReady = false;
  /** The roles of the frames on show (also while only their results are selected). */
  private roles: Roles | null = null;
  /**
   * The content the user chose, by set of frames (framesKey): the choice sticks to those layers for as long as the
   * plugin runs.
   */
  private readonly chosenContent = new Map<string, string>();
  private thumbnails = new Map<string, Promise<Uint8Array | null>>();
  /** The rectangles this plugin inserted (node ids). */
  private readonly results = new Set<string>();
  /** Counts selection changes: a slow thumbnail export for an old selection must not overwrite a newer one. */
  private selectionSerial = 0;

  constructor(
    private readonly figma: PluginAPI,
    private readonly options: GramstyleMainOptions,
  ) {}

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
        if (this.roles?.styleIds.includes(message.frameId)) {
          this.roles = rolesWithContent([this.roles.contentId, ...this.roles.styleIds], message.frameId);
          this.chosenContent.set(framesKey(this.roles), message.frameId);
        }
        return this.publishSelection();
      case 'save-settings':
        return this.figma.clientStorage.setAsync(SETTINGS_KEY, message.settings);
      case 'save-token':
        if (message.token === null) return this.figma.clientStorage.deleteAsync(TOKEN_KEY);
        await this.figma.clientStorage.setAsync(TOKEN_SERVER_KEY, message.helperUrl);
        return this.figma.clientStorage.setAsync(TOKEN_KEY, message.token);
      case 'export':
        return this.answer(message, () => this.exportFrames(message));
      case 'insert':
        return this.answer(message, () => this.insertResult(message));
      case 'notify':
        this.figma.notify(message.message, { error: message.error });
        return;
    }
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

  // ---- selection ----

  async publishSelection(): Promise<void> {
    const serial = ++this.selectionSerial;
    const selection = await this.describeSelection();
    if (this.uiReady && serial === this.selectionSerial) this.post({ type: 'selection', selection });
  }

  private async describeSelection(): Promise<SelectionState> {
    const selection = this.figma.currentPage.selection;
    const kept = await this.framesOfResults(selection);
    if (kept) return this.describeFrames(kept);
    const reading = readSelection(selection);
    if (reading.kind === 'hint') {
      this.roles = null;
      this.thumbnails.clear();
      return { state: 'hint', hint: reading.hint };
    }
    const ids = reading.nodes.map((node) => node.id);
    const chosen = this.chosenContent.get(framesKey({ contentId: ids[0]!, styleIds: ids.slice(1) }));
    const roles = rolesWithContent(ids, chosen ?? guessContent(reading.nodes).id);
    if (!this.roles || framesKey(this.roles) !== framesKey(roles)) this.thumbnails.clear();
    this.roles = roles;
    const byId = new Map(reading.nodes.map((node) => [node.id, node]));
    return this.describeFrames({ content: byId.get(roles.contentId)!, styles: roles.styleIds.map((id) => byId.get(id)!) });
  }

  private async describeFrames(frames: { content: ExportableNode; styles: readonly ExportableNode[] }): Promise<SelectionState> {
    const [content, ...styles] = await Promise.all([frames.content, ...frames.styles].map((node) => this.summarize(node)));
    return { state: 'ready', content: content!, styles };
  }

  /**
   * Inserting selects the result; the panel then keeps showing the frames it came from (while only results are
   * selected and all the frames exist), so that the designer can stylize again with other settings at once.
   */
  private async framesOfResults(
    selection: readonly SceneNode[],
  ): Promise<{ content: ExportableNode; styles: ExportableNode[] } | null> {
    const roles = this.roles;
    if (!roles || selection.length === 0 || !selection.every((node) => this.results.has(node.id))) return null;
    const [content, ...styles] = await Promise.all(
      [roles.contentId, ...roles.styleIds].map((id) => this.figma.getNodeByIdAsync(id)),
    );
    const exportable = (node: BaseNode | null | undefined): node is ExportableNode => !!node && isExportable(node);
    return exportable(content) && styles.every(exportable) ? { content, styles } : null;
  }

  private async summarize(node: ExportableNode): Promise<FrameSummary> {
    let thumbnail = this.thumbnails.get(node.id);
    if (!thumbnail) {
      thumbnail = exportPng(node, THUMBNAIL_SIZE).catch(() => null); // cosmetic: the frame itself may still export
      this.thumbnails.set(node.id, thumbnail);
    }
    return {
      id: node.id,
      name: node.name,
      type: node.type,
      width: node.width,
      height: node.height,
      thumbnail: await thumbnail,
    };
  }

  // ---- export and insertion ----

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

  private async exportFrames(request: MessageOf<UiToMainMessage, 'export'>): Promise<ReplyTo<'export'>> {
    const [content, ...styles] = await Promise.all([
      this.findExportable(request.contentId, 'content'),
      ...request.styleIds.map((id) => this.findExportable(id, 'style')),
    ]);
    const [contentPng, ...stylePngs] = await Promise.all([
      exportForJob(content!, request.size),
      ...styles.map((style) => exportForJob(style, request.styleSize)),
    ]);
    return { type: 'exported', requestId: request.requestId, content: contentPng!, styles: stylePngs };
  }

  private async insertResult(request: MessageOf<UiToMainMessage, 'insert'>): Promise<ReplyTo<'insert'>> {
    const content = await this.findExportable(request.contentId, 'content');
    // The style frames only lend their names: a result is still worth inserting if one was deleted meanwhile.
    const styleNodes = await Promise.all(request.styleIds.map((id) => this.figma.getNodeByIdAsync(id)));
    const styleNames = styleNodes.map((node) => (node && isExportable(node) ? node.name : 'style'));

    let image;
    try {
      image = this.figma.createImage(request.png);
    } catch (error) {
      throw new UserFacingError(`Figma could not take the result image: ${messageOf(error)}`);
    }
    const placement = placeResult(content, await image.getSizeAsync());
    if (!placement) throw new UserFacingError(`Could not find where to put the result of “${content.name}”.`);
    // With dynamic-page access a page must be loaded before a child goes in (the current one always is).
    if (placement.parent.type === 'PAGE') await placement.parent.loadAsync();
    const rectangle = this.figma.createRectangle();
    try {
      rectangle.name = `${content.name} × ${styleNames.join(' + ')}`;
      rectangle.resize(placement.width, placement.height);
      rectangle.fills = [{ type: 'IMAGE', imageHash: image.hash, scaleMode: 'FILL' }];
      placement.parent.insertChild(placement.index, rectangle);
      rectangle.x = placement.x;
      rectangle.y = placement.y;

      this.results.add(rectangle.id);
      const page = pageOf(rectangle);
      if (page) page.selection = [rectangle];
      if (page === this.figma.currentPage) this.figma.viewport.scrollAndZoomIntoView([rectangle]);
      // One undo step takes the whole insertion back.
      this.figma.commitUndo();
    } catch (error) {
      this.results.delete(rectangle.id);
      rectangle.remove();
      throw error;
    }
    this.figma.notify(`Inserted “${rectangle.name}”`);
    return { type: 'inserted', requestId: request.requestId, nodeId: rectangle.id, name: rectangle.name };
  }

  private async findExportable(id: string, role: 'content' | 'style'): Promise<ExportableNode> {
    const node = await this.figma.getNodeByIdAsync(id);
    if (!node || !isExportable(node)) {
      throw new UserFacingError(`The ${role} frame is no longer in the document. Select the frames again.`);
    }
    return node;
  }
}

/** The node as PNG, the long side of what it shows (its render bounds, shadows included) `longSide` pixels. */
async function exportPng(node: ExportableNode, longSide: number): Promise<Uint8Array> {
  const shown = renderedBox(node) ?? node;
  return node.exportAsync({ format: 'PNG', constraint: longSideConstraint(shown.width, shown.height, longSide) });
}

async function exportForJob(node: ExportableNode, longSide: number): Promise<Uint8Array> {
  try {
    return await exportPng(node, longSide);
  } catch (error) {
    throw new UserFacingError(`Figma could not export “${node.name}”: ${messageOf(error)}`);
  }
}

interface Roles {
  readonly contentId: string;
  /** In a stable order (by id), whatever order the selection lists them in. */
  readonly styleIds: readonly string[];
}

function rolesWithContent(ids: readonly string[], contentId: string): Roles {
  return { contentId, styleIds: ids.filter((id) => id !== contentId).sort() };
}

/** The same for every order of the same layers, whichever is the content. */
function framesKey(roles: Roles): string {
  return [roles.contentId, ...roles.styleIds].sort().join(' ');
}

function pageOf(node: BaseNode): PageNode | null {
  for (let current: BaseNode | null = node; current; current = current.parent) {
    if (current.type === 'PAGE') return current;
  }
  return null;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
