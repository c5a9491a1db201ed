// What the panel shows of the selection: the frames' roles (content, styles), their summaries and thumbnails.
import type { BaseNode, PluginAPI, SceneNode } from '@figma/plugin-typings/plugin-api-standalone.js';

import { type FrameSummary, type SelectionState, THUMBNAIL_SIZE } from '../../shared/pluginMessages.js';
import { exportPng } from './frameExport.js';
import { type ExportableNode, guessContent, isExportable, readSelection } from './selection.js';

/**
 * Follows the selection for the panel. It remembers the content the user chose for a set of frames, and keeps
 * showing the frames a result came from while only results (`results`, the rectangles the plugin inserted) are
 * selected.
 */
export class SelectionTracker {
  /** The rectangles this plugin inserted (node ids). */
  readonly results = new Set<string>();
  /** The roles of the frames on show (also while only their results are selected). */
  private roles: Roles | null = null;
  /**
   * The content the user chose, by set of frames (framesKey): the choice sticks to those layers for as long as the
   * plugin runs.
   */
  private readonly chosenContent = new Map<string, string>();
  private thumbnails = new Map<string, Promise<Uint8Array | null>>();

  constructor(private readonly figma: PluginAPI) {}

  /** Makes this style frame the content (the others become the styles); any other id changes nothing. */
  chooseContent(frameId: string): void {
    if (!this.roles?.styleIds.includes(frameId)) return;
    this.roles = rolesWithContent([this.roles.contentId, ...this.roles.styleIds], frameId);
    this.chosenContent.set(framesKey(this.roles), frameId);
  }

  async describe(): Promise<SelectionState> {
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
