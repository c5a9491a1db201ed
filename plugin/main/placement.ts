import type { BaseNode, FrameNode, PageNode, SceneNode, SectionNode, Transform } from '@figma/plugin-typings/plugin-api-standalone.js';

import { type Box, placeBeside } from './geometry.js';
import type { ExportableNode } from './selection.js';

/** A container that can take the result without moving, hiding or rewriting anything. */
export type ResultParent = PageNode | FrameNode | SectionNode;

/** Where the result goes: the parent, its layer index there, and its box in the parent's coordinates. */
export interface Placement {
  readonly parent: ResultParent;
  readonly index: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Places the result of `content` beside it, at the same absolute position whatever container ends up holding it: the
 * nearest ancestor where a new layer stands freely, the page at worst. It never goes
 * - into an auto-layout frame: its children are placed by the flow ("calling insertChild … can cause this layer to be
 *   resized and children to be moved"; x and y of flow children are computed), so the result would shift the design;
 * - into a frame that clips its content ("whether layers inside the frame are visible outside the bounds of the
 *   frame") unless it lies within the frame's bounds, or into a section unless it lies within;
 * - into an instance or anything inside one ("Cannot move node. New parent is an instance or is inside of an
 *   instance"), nor into a component or component set: every instance would grow the layer;
 * - into a group (it would grow around the result) or a rotated frame (which would turn it).
 *
 * The result shows the whole exported image undistorted: `image` is the result's pixel size, whose aspect is that of
 * the content's export, and an export covers the render bounds (shadows, overflowing children), not just the box.
 */
export function placeResult(content: ExportableNode, image: { width: number; height: number }): Placement | null {
  const shown = renderedBox(content);
  if (!shown) return null;
  const size = resultSize(shown, image);
  let child: BaseNode = content;
  for (let parent = content.parent; parent; child = parent, parent = parent.parent) {
    if (!canHoldResult(parent)) continue;
    const siblings = parent.children.map(absoluteBox).filter((box): box is Box => box !== null);
    const box = { ...placeBeside(shown, size, siblings), ...size };
    if (parent.type !== 'PAGE' && hides(parent, box)) continue;
    const origin = parent.type === 'PAGE' ? { x: 0, y: 0 } : translation(parent.absoluteTransform);
    const index = parent.children.indexOf(child as SceneNode) + 1;
    return { parent, index, x: box.x - origin.x, y: box.y - origin.y, ...size };
  }
  return null;
}

/** What an export of the node shows, on the page: its render bounds, or its box when it renders nothing outside. */
export function renderedBox(node: SceneNode): Box | null {
  if ('absoluteRenderBounds' in node && node.absoluteRenderBounds) return node.absoluteRenderBounds;
  return absoluteBox(node);
}

/**
 * The result's size on the canvas: as wide as what the content shows, as tall as the image's aspect makes it. When
 * that differs from the content's height by less than one result pixel (rounding in the helper), the content's
 * height is kept, so that a plain frame's result lines up with it exactly.
 */
export function resultSize(shown: Box, image: { width: number; height: number }): { width: number; height: number } {
  const canvasPerPixel = shown.width / image.width;
  const height = image.height * canvasPerPixel;
  return { width: shown.width, height: Math.abs(height - shown.height) <= canvasPerPixel ? shown.height : height };
}

function canHoldResult(node: BaseNode): node is ResultParent {
  if (node.type === 'PAGE') return true;
  if (node.type !== 'FRAME' && node.type !== 'SECTION') return false;
  for (let ancestor: BaseNode | null = node; ancestor; ancestor = ancestor.parent) {
    if (ancestor.type === 'INSTANCE' || ancestor.type === 'COMPONENT' || ancestor.type === 'COMPONENT_SET') return false;
  }
  return node.type === 'SECTION' || (node.layoutMode === 'NONE' && !rotated(node.absoluteTransform));
}

/** Whether `box` (absolute) would be cut off in `parent`: a clipping frame or a section it does not fit in. */
function hides(parent: FrameNode | SectionNode, box: Box): boolean {
  if (parent.type === 'FRAME' && !parent.clipsContent) return false;
  const bounds = absoluteBox(parent);
  return !bounds || !contains(bounds, box);
}

function absoluteBox(node: SceneNode): Box | null {
  return 'absoluteBoundingBox' in node ? node.absoluteBoundingBox : null;
}

function contains(outer: Box, inner: Box): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;
}

function translation(transform: Transform): { x: number; y: number } {
  return { x: transform[0][2], y: transform[1][2] };
}

function rotated(transform: Transform): boolean {
  const [[a, b], [c, d]] = transform;
  return Math.abs(a - 1) > 1e-9 || Math.abs(b) > 1e-9 || Math.abs(c) > 1e-9 || Math.abs(d - 1) > 1e-9;
}
