import { z } from 'zod';
import { MAX_STYLES, MIN_SIZE, stylizeOptionsSchema } from './stylizeOptions.js';

/**
 * The messages between the Figma plugin's main thread (plugin/main: the document, exports, insertion, storage) and
 * its panel (plugin/ui: the iframe that talks to the helper). Both sides validate what they receive with these
 * schemas; types are inferred from them. Figma carries messages with the structured clone algorithm, so bytes travel
 * as Uint8Array.
 */

/** Figma's limit on images: createImage rejects anything wider or taller, so exports stay within it too. */
export const FIGMA_MAX_IMAGE_SIZE = 4096;

/** The node types the plugin exports: they render as one picture with a box of their own. */
export const EXPORTABLE_NODE_TYPES = ['FRAME', 'COMPONENT', 'INSTANCE', 'GROUP'] as const;
export const exportableNodeTypeSchema = z.enum(EXPORTABLE_NODE_TYPES);
export type ExportableNodeType = z.infer<typeof exportableNodeTypeSchema>;

/**
 * The most frames the panel takes: the content and up to three styles, each with its weight in the blend (the API
 * takes MAX_STYLES; three style cards with their sliders are what the panel shows without scrolling past the run).
 */
export const MAX_SELECTED_FRAMES = 4;
const MAX_PANEL_STYLES = Math.min(MAX_STYLES, MAX_SELECTED_FRAMES - 1);

/** Long side of the thumbnails in the panel, in image pixels (shown at half that size on 2× screens). */
export const THUMBNAIL_SIZE = 96;

/** The panel's size presets; any whole number of pixels between MIN_SIZE and the export limit is allowed too. */
export const SIZE_PRESETS = [
  { label: 'Preview', size: 256 },
  { label: 'Standard', size: 512 },
  { label: 'High', size: 1024 },
] as const;

/** Uint8Array of any backing buffer (a Node Buffer is one too). */
const bytesSchema = z.custom<Uint8Array>((value) => value instanceof Uint8Array, 'expected a Uint8Array');
const requestIdSchema = z.number().int().nonnegative();
const nodeIdSchema = z.string().min(1);

/** What the panel remembers between runs (figma.clientStorage); defaults and limits come from the job options. */
const jobOptionShape = stylizeOptionsSchema.shape;
export const panelSettingsSchema = z.object({
  strength: jobOptionShape.strength,
  /** The job's own limit (MAX_SIZE) is Figma's image limit too. */
  size: jobOptionShape.size,
  iterations: jobOptionShape.iterations,
  preserveColors: jobOptionShape.preserveColors,
  /** Shown as the brush size. */
  styleScale: jobOptionShape.styleScale,
});
export type PanelSettings = z.output<typeof panelSettingsSchema>;

/** The helper's pairing token, as typed or pasted by the user. */
export const pairingTokenSchema = z.string().trim().min(1, 'is empty').max(512);

export const frameSummarySchema = z.object({
  id: nodeIdSchema,
  name: z.string(),
  type: exportableNodeTypeSchema,
  width: z.number().positive(),
  height: z.number().positive(),
  /** PNG whose long side is THUMBNAIL_SIZE; null when Figma could not render it (the frame is still usable). */
  thumbnail: bytesSchema.nullable(),
});
export type FrameSummary = z.infer<typeof frameSummarySchema>;

const styleIdsSchema = z.array(nodeIdSchema).min(1).max(MAX_PANEL_STYLES);

export const selectionSchema = z.discriminatedUnion('state', [
  /** Two to MAX_SELECTED_FRAMES exportable nodes, already assigned their roles: one content, the others styles. */
  z.object({ state: z.literal('ready'), content: frameSummarySchema, styles: z.array(frameSummarySchema).min(1).max(MAX_PANEL_STYLES) }),
  /** Anything else: a sentence telling the user what to select. */
  z.object({ state: z.literal('hint'), hint: z.string() }),
]);
export type SelectionState = z.infer<typeof selectionSchema>;

// ---- panel → main thread ----

export const uiToMainMessageSchema = z.discriminatedUnion('type', [
  /** The panel is listening: the main thread answers with `init` and the current `selection`. */
  z.object({ type: z.literal('ready') }),
  /** Make this selected frame the content (the others become the styles). */
  z.object({ type: z.literal('set-content'), frameId: nodeIdSchema }),
  z.object({ type: z.literal('save-settings'), settings: panelSettingsSchema }),
  /**
   * A token the server took; null forgets it. The main thread keeps it with the server it named in `init` (the one it
   * was built for), so that no other server ever gets it: the panel does not say which server it is for.
   */
  z.object({ type: z.literal('save-token'), token: pairingTokenSchema.nullable() }),
  /**
   * Export the frames as PNG: the content with the long side `size`, each style with `styleSize` (the brush size
   * times the output's, so that the helper need not enlarge it); answered by `exported` or `failed`.
   */
  z.object({
    type: z.literal('export'),
    requestId: requestIdSchema,
    contentId: nodeIdSchema,
    styleIds: styleIdsSchema,
    size: z.number().int().min(MIN_SIZE).max(FIGMA_MAX_IMAGE_SIZE),
    styleSize: z.number().int().min(1).max(FIGMA_MAX_IMAGE_SIZE),
  }),
  /** Insert the result beside the content frame; answered by `inserted` or `failed`. */
  z.object({
    type: z.literal('insert'),
    requestId: requestIdSchema,
    contentId: nodeIdSchema,
    styleIds: styleIdsSchema,
    png: bytesSchema,
  }),
  z.object({ type: z.literal('notify'), message: z.string().min(1), error: z.boolean() }),
]);
export type UiToMainMessage = z.infer<typeof uiToMainMessageSchema>;

// ---- main thread → panel ----

export const mainToUiMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('init'),
    /** The server the panel talks to: the local helper (http://localhost:7415) or the team server this build names. */
    helperUrl: z.url(),
    settings: panelSettingsSchema,
    /** The token saved for that server; null when none was, or it was saved for another server. */
    token: pairingTokenSchema.nullable(),
  }),
  z.object({ type: z.literal('selection'), selection: selectionSchema }),
  /** The styles in the order of the request's styleIds. */
  z.object({ type: z.literal('exported'), requestId: requestIdSchema, content: bytesSchema, styles: z.array(bytesSchema) }),
  z.object({ type: z.literal('inserted'), requestId: requestIdSchema, nodeId: nodeIdSchema, name: z.string() }),
  /** An `export` or `insert` that did not work; the main thread has told the user through figma.notify too. */
  z.object({ type: z.literal('failed'), requestId: requestIdSchema, message: z.string() }),
]);
export type MainToUiMessage = z.infer<typeof mainToUiMessageSchema>;

/** The message of one type, e.g. `MessageOf<MainToUiMessage, 'exported'>`. */
export type MessageOf<M extends { type: string }, T extends M['type']> = Extract<M, { type: T }>;

// ---- requests and their replies ----

/** The panel's messages that the main thread answers, matched by requestId. */
export type MainRequest = Extract<UiToMainMessage, { requestId: number }>;
export type MainRequestType = MainRequest['type'];

/**
 * The reply each request gets when it works; any request may instead get `failed`. The one place that ties a reply
 * to its request: the main thread's handlers must return this type, and the panel refuses any other answer.
 */
export const REPLY_TYPE = { export: 'exported', insert: 'inserted' } as const satisfies Record<MainRequestType, MainToUiMessage['type']>;
export type ReplyTo<T extends MainRequestType> = MessageOf<MainToUiMessage, (typeof REPLY_TYPE)[T]>;
