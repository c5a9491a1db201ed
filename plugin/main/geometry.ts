import type { ExportSettingsConstraints } from '@figma/plugin-typings/plugin-api-standalone.js';

import { FIGMA_MAX_IMAGE_SIZE } from '../../shared/pluginMessages.js';

/**
 * The export constraint that makes the long side of a width × height node `longSide` pixels (at most Figma's image
 * limit), whether that scales it up or down.
 */
export function longSideConstraint(width: number, height: number, longSide: number): ExportSettingsConstraints {
  const value = Math.max(1, Math.min(Math.round(longSide), FIGMA_MAX_IMAGE_SIZE));
  return width >= height ? { type: 'WIDTH', value } : { type: 'HEIGHT', value };
}

export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** Space between the content frame and the inserted result, as between frames on a tidy canvas. */
export const PLACEMENT_GAP = 40;

/**
 * Where a box of `size` goes beside `anchor`: to its right with a gap, top-aligned; further right, past whatever
 * sibling is in the way (an earlier result, say), so that "Insert again" never stacks copies on top of each other.
 */
export function placeBeside(
  anchor: Box,
  size: { width: number; height: number },
  siblings: readonly Box[],
  gap = PLACEMENT_GAP,
): { x: number; y: number } {
  let x = anchor.x + anchor.width + gap;
  const { y } = anchor;
  const { width, height } = size;
  for (let moved = true; moved; ) {
    moved = false;
    for (const sibling of siblings) {
      if (overlaps({ x, y, width, height }, sibling)) {
        x = sibling.x + sibling.width + gap;
        moved = true;
      }
    }
  }
  return { x, y };
}

function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}
