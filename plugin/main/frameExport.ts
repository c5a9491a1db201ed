// The main thread's work on the document for a job: exporting the frames, inserting the result beside the content.
import type { BaseNode, PageNode, PluginAPI } from '@figma/plugin-typings/plugin-api-standalone.js';

import type { MessageOf, ReplyTo, UiToMainMessage } from '../../shared/pluginMessages.js';
import { longSideConstraint } from './geometry.js';
import { placeResult, renderedBox } from './placement.js';
import { type ExportableNode, isExportable } from './selection.js';

/** An error whose message is written for the user, shown as it is. */
export class UserFacingError extends Error {}

/** The frames of a request as PNG: the content with the long side `size`, each style with `styleSize`. */
export async function exportFrames(figma: PluginAPI, request: MessageOf<UiToMainMessage, 'export'>): Promise<ReplyTo<'export'>> {
  const [content, ...styles] = await Promise.all([
    findExportable(figma, request.contentId, 'content'),
    ...request.styleIds.map((id) => findExportable(figma, id, 'style')),
  ]);
  const [contentPng, ...stylePngs] = await Promise.all([
    exportForJob(content!, request.size),
    ...styles.map((style) => exportForJob(style, request.styleSize)),
  ]);
  return { type: 'exported', requestId: request.requestId, content: contentPng!, styles: stylePngs };
}

/**
 * Inserts the result as a rectangle beside the content, selects it and scrolls to it, as one undo step. `results`
 * learns the rectangle's id (the selection tracker keeps showing its frames while it is selected).
 */
export async function insertResult(
  figma: PluginAPI,
  request: MessageOf<UiToMainMessage, 'insert'>,
  results: Set<string>,
): Promise<ReplyTo<'insert'>> {
  const content = await findExportable(figma, request.contentId, 'content');
  // The style frames only lend their names: a result is still worth inserting if one was deleted meanwhile.
  const styleNodes = await Promise.all(request.styleIds.map((id) => figma.getNodeByIdAsync(id)));
  const styleNames = styleNodes.map((node) => (node && isExportable(node) ? node.name : 'style'));

  let image;
  try {
    image = figma.createImage(request.png);
  } catch (error) {
    throw new UserFacingError(`Figma could not take the result image: ${messageOf(error)}`);
  }
  const placement = placeResult(content, await image.getSizeAsync());
  if (!placement) throw new UserFacingError(`Could not find where to put the result of “${content.name}”.`);
  // With dynamic-page access a page must be loaded before a child goes in (the current one always is).
  if (placement.parent.type === 'PAGE') await placement.parent.loadAsync();
  const rectangle = figma.createRectangle();
  try {
    rectangle.name = `${content.name} × ${styleNames.join(' + ')}`;
    rectangle.resize(placement.width, placement.height);
    rectangle.fills = [{ type: 'IMAGE', imageHash: image.hash, scaleMode: 'FILL' }];
    placement.parent.insertChild(placement.index, rectangle);
    rectangle.x = placement.x;
    rectangle.y = placement.y;

    results.add(rectangle.id);
    const page = pageOf(rectangle);
    if (page) page.selection = [rectangle];
    if (page === figma.currentPage) figma.viewport.scrollAndZoomIntoView([rectangle]);
    // One undo step takes the whole insertion back.
    figma.commitUndo();
  } catch (error) {
    results.delete(rectangle.id);
    rectangle.remove();
    throw error;
  }
  figma.notify(`Inserted “${rectangle.name}”`);
  return { type: 'inserted', requestId: request.requestId, nodeId: rectangle.id, name: rectangle.name };
}

/** The node as PNG, the long side of what it shows (its render bounds, shadows included) `longSide` pixels. */
export async function exportPng(node: ExportableNode, longSide: number): Promise<Uint8Array> {
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

async function findExportable(figma: PluginAPI, id: string, role: 'content' | 'style'): Promise<ExportableNode> {
  const node = await figma.getNodeByIdAsync(id);
  if (!node || !isExportable(node)) {
    throw new UserFacingError(`The ${role} frame is no longer in the document. Select the frames again.`);
  }
  return node;
}

function pageOf(node: BaseNode): PageNode | null {
  for (let current: BaseNode | null = node; current; current = current.parent) {
    if (current.type === 'PAGE') return current;
  }
  return null;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
