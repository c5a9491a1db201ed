import type { SceneNode } from '@figma/plugin-typings/plugin-api-standalone.js';

import { EXPORTABLE_NODE_TYPES, type ExportableNodeType } from '../../shared/pluginMessages.js';

/** A node the plugin can stylize: it exports as one picture and has a box of its own. */
export type ExportableNode = Extract<SceneNode, { type: ExportableNodeType }>;

export function isExportable(node: { type: string; removed?: boolean }): node is ExportableNode {
  return (EXPORTABLE_NODE_TYPES as readonly string[]).includes(node.type) && node.removed !== true;
}

export type SelectionReading =
  | { kind: 'pair'; nodes: readonly [ExportableNode, ExportableNode] }
  | { kind: 'hint'; hint: string };

const ASK = 'Select two frames: the picture to repaint and the style to paint it with.';

/** What the plugin can do with the current selection, or a plain sentence saying what to select instead. */
export function readSelection(selection: readonly SceneNode[]): SelectionReading {
  const unusable = selection.find((node) => !isExportable(node));
  if (unusable) {
    return {
      kind: 'hint',
      hint: `“${unusable.name}” is ${describeType(unusable.type)}. Select two frames, components, instances or groups.`,
    };
  }
  const [first, second] = selection as readonly ExportableNode[];
  if (selection.length === 0 || !first) return { kind: 'hint', hint: ASK };
  if (!second) return { kind: 'hint', hint: `“${first.name}” is selected. Shift-click a second frame for the style.` };
  if (selection.length > 2) {
    return { kind: 'hint', hint: `${selection.length} layers are selected. Select just two frames: content and style.` };
  }
  const empty = [first, second].find((node) => !(node.width >= 1 && node.height >= 1));
  if (empty) return { kind: 'hint', hint: `“${empty.name}” is empty (smaller than one pixel). Select frames with content.` };
  return { kind: 'pair', nodes: [first, second] };
}

/**
 * The default roles of two selected nodes, whichever was picked first (Figma documents the selection's order as
 * unspecified): one whose name says "style" is the style, when only one does; otherwise the larger is the content, the
 * picture to repaint (a style sample tends to be a swatch); two the same size are told apart by their ids, which
 * never change. The same two layers get the same roles every time.
 */
export function guessRoles<N extends { id: string; name: string; width: number; height: number }>(a: N, b: N): { content: N; style: N } {
  const saysStyle = (node: N) => /style/i.test(node.name);
  if (saysStyle(a) !== saysStyle(b)) return saysStyle(a) ? { content: b, style: a } : { content: a, style: b };
  const area = (node: N) => node.width * node.height;
  if (area(a) !== area(b)) return area(a) > area(b) ? { content: a, style: b } : { content: b, style: a };
  return a.id < b.id ? { content: a, style: b } : { content: b, style: a };
}

function describeType(type: string): string {
  const words = type.toLowerCase().replace(/_/g, ' ');
  return `${/^[aeiou]/.test(words) ? 'an' : 'a'} ${words} layer`;
}
