import type { SceneNode } from '@figma/plugin-typings/plugin-api-standalone.js';

import { EXPORTABLE_NODE_TYPES, type ExportableNodeType, MAX_SELECTED_FRAMES } from '../../shared/pluginMessages.js';

/** A node the plugin can stylize: it exports as one picture and has a box of its own. */
export type ExportableNode = Extract<SceneNode, { type: ExportableNodeType }>;

export function isExportable(node: { type: string; removed?: boolean }): node is ExportableNode {
  return (EXPORTABLE_NODE_TYPES as readonly string[]).includes(node.type) && node.removed !== true;
}

export type SelectionReading =
  /** Two to MAX_SELECTED_FRAMES nodes: the content and the styles, in some order. */
  | { kind: 'frames'; nodes: readonly ExportableNode[] }
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
  if (selection.length > MAX_SELECTED_FRAMES) {
    return {
      kind: 'hint',
      hint: `${selection.length} layers are selected. Select two to ${MAX_SELECTED_FRAMES} frames: the content and one to ${MAX_SELECTED_FRAMES - 1} styles.`,
    };
  }
  const nodes = selection as readonly ExportableNode[];
  const empty = nodes.find((node) => !(node.width >= 1 && node.height >= 1));
  if (empty) return { kind: 'hint', hint: `“${empty.name}” is empty (smaller than one pixel). Select frames with content.` };
  return { kind: 'frames', nodes };
}

/**
 * The default content among the selected nodes, whatever order they were picked in (Figma documents the selection's
 * order as unspecified): layers whose names say "style" are styles, unless all do; of the others the largest is the
 * content, the picture to repaint (a style sample tends to be a swatch); the same size is told apart by the ids,
 * which never change. The same layers get the same roles every time.
 */
export function guessContent<N extends { id: string; name: string; width: number; height: number }>(nodes: readonly N[]): N {
  const saysStyle = (node: N) => /style/i.test(node.name);
  const candidates = nodes.every(saysStyle) ? nodes : nodes.filter((node) => !saysStyle(node));
  const area = (node: N) => node.width * node.height;
  return candidates.reduce((best, node) =>
    area(node) > area(best) || (area(node) === area(best) && node.id < best.id) ? node : best,
  );
}

function describeType(type: string): string {
  const words = type.toLowerCase().replace(/_/g, ' ');
  return `${/^[aeiou]/.test(words) ? 'an' : 'a'} ${words} layer`;
}
