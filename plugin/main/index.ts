// The Figma main thread's entry: hands the real `figma` API to GramstyleMain. Everything else lives there.
import type { PluginAPI } from '@figma/plugin-typings/plugin-api-standalone.js';
import { z } from 'zod';

import { DEFAULT_HELPER_URL, GramstyleMain } from './gramstyleMain.js';

/** The team server this build talks to (`gramstyle plugin build --server`), or null: the local helper. */
declare const __GRAMSTYLE_SERVER__: string | null;

// Figma's sandbox may refuse `new Function`; zod's plain interpreter works everywhere.
z.config({ jitless: true });

// GramstyleMain is typed with the module copy of Figma's typings (tests compile it without Figma's globals); this
// global `figma` has the same declarations, which TypeScript cannot match across the two copies.
const api = figma as unknown as PluginAPI;

new GramstyleMain(api, { html: __html__, helperUrl: __GRAMSTYLE_SERVER__ ?? DEFAULT_HELPER_URL }).start();
