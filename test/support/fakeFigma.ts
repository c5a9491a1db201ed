import { createHash } from 'node:crypto';
import type {
  Effect,
  ExportSettings,
  NotificationOptions,
  Paint,
  PluginAPI,
  Rect,
  ShowUIOptions,
  Transform,
} from '@figma/plugin-typings/plugin-api-standalone.js';
import sharp, { type OverlayOptions } from 'sharp';

/**
 * A stand-in for Figma's `figma` global that behaves like the documented plugin API, for the parts Gramstyle uses:
 * a document of pages and nodes (id, name, type, x, y, width, height, parent, children), exportAsync rendering real
 * PNG or JPEG bytes at the requested constraint (with sharp), createImage checking the bytes like Figma does (PNG,
 * JPEG or GIF, at most 4096 px a side), selection, events, clientStorage, notify, commitUndo and the viewport, all
 * recorded for assertions. `api` hands it to code typed against the real API.
 *
 * Figma's frame structure, as the API reference describes it:
 * - auto layout (`layoutMode` HORIZONTAL or VERTICAL): the frame places its children one after another with
 *   `itemSpacing` and padding, ignoring the x and y a plugin sets on them, and a frame that hugs
 *   (`primaryAxisSizingMode` AUTO) grows with every child: "calling [insertChild] can cause this layer to be resized
 *   and children to be moved". A child with `layoutPositioning` ABSOLUTE keeps its own x and y;
 * - `clipsContent`: children outside the frame's bounds are not visible (frames made in Figma clip by default);
 * - instances: their sublayers cannot take a new child ("Cannot move node. New parent is an instance or is inside of
 *   an instance"); a component set takes only components;
 * - render bounds: `absoluteRenderBounds` includes drop shadows, blurs and children that overflow a frame that does
 *   not clip, and exportAsync renders exactly that area, its constraint applying to it;
 * - pages: with `"documentAccess": "dynamic-page"` a page other than the current one must be loaded (loadAsync)
 *   before a child can be inserted into it.
 */

export const FIGMA_IMAGE_LIMIT = 4096;

/** What a node looks like when exported: a picture (file path or bytes, stretched to the node) or a flat colour. */
export type Appearance = { readonly image: string | Uint8Array } | { readonly color: string };

type ContainerType = 'FRAME' | 'COMPONENT' | 'COMPONENT_SET' | 'INSTANCE' | 'GROUP' | 'SECTION';

let nextId = 1;
const newId = () => `${nextId}:${nextId++ * 7}`;

abstract class FakeBaseNode {
  readonly id = newId();
  abstract readonly type: string;
  name: string;
  parent: FakeParent | null = null;
  removed = false;

  constructor(name: string) {
    this.name = name;
  }

  remove(): void {
    this.parent?.detach(this as unknown as FakeSceneNode);
    this.removed = true;
  }
}

export abstract class FakeSceneNode extends FakeBaseNode {
  private ownX = 0;
  private ownY = 0;
  protected ownWidth: number;
  protected ownHeight: number;
  visible = true;
  /** How the node sits in an auto-layout parent: in the flow (AUTO), or at its own x and y (ABSOLUTE). */
  layoutPositioning: 'AUTO' | 'ABSOLUTE' = 'AUTO';
  effects: readonly Effect[] = [];
  appearance: Appearance = { color: '#d9d9d9' };
  /** Set by a test to make exportAsync fail the way Figma does for a node it cannot render. */
  exportFailure: string | null = null;

  constructor(
    private readonly figma: FakeFigma,
    name: string,
    width: number,
    height: number,
  ) {
    super(name);
    this.ownWidth = width;
    this.ownHeight = height;
  }

  /** In an auto-layout flow the parent decides the position; what a plugin sets is ignored, as in Figma. */
  get x(): number {
    return this.flowPosition()?.x ?? this.ownX;
  }
  set x(value: number) {
    this.ownX = value;
  }
  get y(): number {
    return this.flowPosition()?.y ?? this.ownY;
  }
  set y(value: number) {
    this.ownY = value;
  }

  private flowPosition(): { x: number; y: number } | null {
    const parent = this.parent;
    if (!(parent instanceof FakeContainerNode) || parent.layoutMode === 'NONE' || this.layoutPositioning === 'ABSOLUTE') {
      return null;
    }
    return parent.flowPositionOf(this);
  }

  get width(): number {
    return this.ownWidth;
  }
  get height(): number {
    return this.ownHeight;
  }

  resize(width: number, height: number): void {
    // Figma's own limits: at least 0.01, and finite.
    if (!(width >= 0.01 && height >= 0.01 && Number.isFinite(width) && Number.isFinite(height))) {
      throw new Error(`Invalid size ${width}×${height}`);
    }
    this.ownWidth = width;
    this.ownHeight = height;
  }

  /** The node's box on the page: frames, components and instances start a coordinate space; groups do not. */
  get absoluteBoundingBox(): Rect {
    const origin = this.parent ? coordinateOrigin(this.parent) : { x: 0, y: 0 };
    return { x: origin.x + this.x, y: origin.y + this.y, width: this.width, height: this.height };
  }

  /** Unrotated: a translation to the node's top-left corner on the page. */
  get absoluteTransform(): Transform {
    const { x, y } = this.absoluteBoundingBox;
    return [
      [1, 0, x],
      [0, 1, y],
    ];
  }

  /** The box plus whatever renders outside it: shadows and blurs, and children a frame does not clip. */
  get absoluteRenderBounds(): Rect | null {
    if (!this.visible) return null;
    let bounds = this.absoluteBoundingBox;
    for (const effect of this.effects) bounds = union(bounds, effectBounds(this.absoluteBoundingBox, effect));
    for (const child of this.overflowingChildren()) {
      const childBounds = child.absoluteRenderBounds;
      if (childBounds) bounds = union(bounds, childBounds);
    }
    return bounds;
  }

  /** Children that render outside the node's box when they stick out. */
  protected overflowingChildren(): readonly FakeSceneNode[] {
    return [];
  }

  async exportAsync(settings?: ExportSettings): Promise<Uint8Array> {
    if (this.removed) throw new Error('The node with id ' + this.id + ' does not exist');
    const format = settings?.format ?? 'PNG';
    if (format !== 'PNG' && format !== 'JPG') throw new Error(`the fake exports PNG and JPG only, not ${format}`);
    if (this.exportFailure) throw new Error(this.exportFailure);
    const area = this.absoluteRenderBounds;
    if (!area) throw new Error('Cannot export an invisible node');
    const constraint = settings && 'constraint' in settings ? settings.constraint : undefined;
    const { width, height, scale } = exportSize(area.width, area.height, constraint);
    const picture = sharp({ create: { width, height, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).composite(
      await Promise.all(this.layers().map((layer) => layer.render(area, scale))),
    );
    const bytes = format === 'PNG' ? await picture.png().toBuffer() : await picture.flatten({ background: '#ffffff' }).jpeg().toBuffer();
    this.figma.exports.push({ nodeId: this.id, format, constraint: constraint ?? null, width, height });
    return new Uint8Array(bytes);
  }

  /** What an export draws, bottom to top: shadows, the node's own picture, then children sticking out. */
  private layers(): { render(area: Rect, scale: number): Promise<OverlayOptions> }[] {
    const box = this.absoluteBoundingBox;
    const shadows = this.effects
      .filter((effect) => effect.type === 'DROP_SHADOW' && effect.visible)
      .map((effect) => ({ box: effectBounds(box, effect), appearance: { color: 'rgba(0, 0, 0, 0.25)' } as Appearance }));
    const children = this.overflowingChildren().map((child) => ({ box: child.absoluteBoundingBox, appearance: child.appearance }));
    return [...shadows, { box, appearance: this.appearance }, ...children].map(({ box: layerBox, appearance }) => ({
      render: (area, scale) => drawBox(appearance, layerBox, area, scale),
    }));
  }
}

export class FakeContainerNode extends FakeSceneNode {
  readonly children: FakeSceneNode[] = [];
  /** Auto layout: NONE places children where they say; HORIZONTAL and VERTICAL place them in a row or column. */
  layoutMode: 'NONE' | 'HORIZONTAL' | 'VERTICAL' = 'NONE';
  itemSpacing = 0;
  paddingLeft = 0;
  paddingTop = 0;
  paddingRight = 0;
  paddingBottom = 0;
  /** AUTO: an auto-layout frame hugs its children along its axis. */
  primaryAxisSizingMode: 'FIXED' | 'AUTO' = 'FIXED';
  /** Frames made in Figma clip their content; groups have no such setting (they never clip). */
  clipsContent: boolean;

  constructor(
    figma: FakeFigma,
    readonly type: ContainerType,
    name: string,
    width: number,
    height: number,
  ) {
    super(figma, name, width, height);
    this.clipsContent = type !== 'GROUP' && type !== 'SECTION';
  }

  // A group has no box of its own: it wraps its children. A hugging auto-layout frame grows along its axis.
  override get width(): number {
    if (this.type === 'GROUP') return groupBounds(this).width;
    return this.hugs('HORIZONTAL') ? this.flowLength('HORIZONTAL') : this.ownWidth;
  }
  override get height(): number {
    if (this.type === 'GROUP') return groupBounds(this).height;
    return this.hugs('VERTICAL') ? this.flowLength('VERTICAL') : this.ownHeight;
  }

  appendChild(child: FakeSceneNode): void {
    this.insertChild(this.children.length, child);
  }

  insertChild(index: number, child: FakeSceneNode): void {
    const refusal = refusesChild(this, child);
    if (refusal) throw new Error(`in insertChild: ${refusal}`);
    insertInto(this, index, child);
  }

  detach(child: FakeSceneNode): void {
    detachFrom(this, child);
  }

  /** Where the auto-layout flow puts `child`: after the padding and every earlier child in the flow. */
  flowPositionOf(child: FakeSceneNode): { x: number; y: number } {
    const horizontal = this.layoutMode === 'HORIZONTAL';
    let offset = horizontal ? this.paddingLeft : this.paddingTop;
    for (const sibling of this.inFlow()) {
      if (sibling === child) break;
      offset += (horizontal ? sibling.width : sibling.height) + this.itemSpacing;
    }
    return horizontal ? { x: offset, y: this.paddingTop } : { x: this.paddingLeft, y: offset };
  }

  protected override overflowingChildren(): readonly FakeSceneNode[] {
    if (this.clipsContent) return [];
    const box = this.absoluteBoundingBox;
    return this.children.filter((child) => {
      const bounds = child.absoluteRenderBounds;
      return bounds !== null && !inside(bounds, box);
    });
  }

  private inFlow(): FakeSceneNode[] {
    return this.children.filter((child) => child.layoutPositioning === 'AUTO');
  }

  private hugs(axis: 'HORIZONTAL' | 'VERTICAL'): boolean {
    return this.layoutMode === axis && this.primaryAxisSizingMode === 'AUTO';
  }

  private flowLength(axis: 'HORIZONTAL' | 'VERTICAL'): number {
    const children = this.inFlow();
    const sizes = children.map((child) => (axis === 'HORIZONTAL' ? child.width : child.height));
    const padding = axis === 'HORIZONTAL' ? this.paddingLeft + this.paddingRight : this.paddingTop + this.paddingBottom;
    return padding + sizes.reduce((sum, size) => sum + size, 0) + this.itemSpacing * Math.max(0, children.length - 1);
  }
}

export class FakeRectangleNode extends FakeSceneNode {
  readonly type = 'RECTANGLE';
  private ownFills: readonly Paint[] = [{ type: 'SOLID', color: { r: 0.85, g: 0.85, b: 0.85 } }];

  constructor(
    private readonly owner: FakeFigma,
    name: string,
  ) {
    super(owner, name, 100, 100);
  }

  get fills(): readonly Paint[] {
    return this.ownFills;
  }
  set fills(paints: readonly Paint[]) {
    for (const paint of paints) {
      if (paint.type === 'IMAGE' && (paint.imageHash === null || !this.owner.images.has(paint.imageHash))) {
        throw new Error(`Image hash ${String(paint.imageHash)} is not an image created in this file`);
      }
    }
    this.ownFills = Object.freeze(structuredClone([...paints]));
  }
}

export class FakeTextNode extends FakeSceneNode {
  readonly type = 'TEXT';
}

export class FakePageNode extends FakeBaseNode {
  readonly type = 'PAGE';
  readonly children: FakeSceneNode[] = [];
  private selected: readonly FakeSceneNode[] = [];
  /** With dynamic-page document access only the current page is loaded until a plugin calls loadAsync. */
  loaded = false;

  constructor(
    private readonly figma: FakeFigma,
    name: string,
  ) {
    super(name);
  }

  get selection(): readonly FakeSceneNode[] {
    return Object.freeze(this.selected.filter((node) => !node.removed));
  }
  set selection(nodes: readonly FakeSceneNode[]) {
    for (const node of nodes) {
      if (pageOf(node) !== this) throw new Error(`Node ${node.id} is not on page ${this.name}`);
    }
    this.selected = [...nodes];
    // Figma reports selection changes asynchronously, for plugin-made ones too.
    if (this.figma.currentPage === this) setTimeout(() => this.figma.emit('selectionchange'), 0);
  }

  async loadAsync(): Promise<void> {
    this.loaded = true;
  }

  appendChild(child: FakeSceneNode): void {
    this.insertChild(this.children.length, child);
  }

  insertChild(index: number, child: FakeSceneNode): void {
    if (!this.loaded && this.figma.currentPage !== this) {
      throw new Error(`in insertChild: page "${this.name}" is not loaded; call loadAsync first (documentAccess: dynamic-page)`);
    }
    insertInto(this, index, child);
  }

  detach(child: FakeSceneNode): void {
    detachFrom(this, child);
  }
}

export type FakeParent = FakeContainerNode | FakePageNode;

interface FakeImage {
  readonly hash: string;
  readonly bytes: Uint8Array;
  readonly width: number;
  readonly height: number;
}

class FakeUi {
  html: string | null = null;
  options: ShowUIOptions | null = null;
  /** Every message the main thread posted, as the panel would receive it (structured-cloned). */
  readonly posted: unknown[] = [];
  onmessage: ((message: unknown, props: { origin: string }) => unknown) | undefined = undefined;
  private readonly listeners = new Set<(message: unknown) => void>();

  postMessage(message: unknown): void {
    const copy = structuredClone(message);
    this.posted.push(copy);
    for (const listener of this.listeners) listener(copy);
  }

  /** Calls `listener` with each message posted from now on; returns the unsubscribe function. */
  subscribe(listener: (message: unknown) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Delivers a message from the panel as Figma does (cloned), returning what the handler returned. */
  fromPanel(message: unknown): unknown {
    if (!this.onmessage) throw new Error('the plugin set no figma.ui.onmessage handler');
    return this.onmessage(structuredClone(message), { origin: 'null' });
  }

  /** Resolves with the first message, already posted or to come, for which `match` is true. */
  waitFor<T>(match: (message: unknown) => message is T, timeoutMs = 10_000): Promise<T> {
    const found = this.posted.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error('timed out waiting for a message from the main thread'));
      }, timeoutMs);
      const unsubscribe = this.subscribe((message) => {
        if (!match(message)) return;
        clearTimeout(timer);
        unsubscribe();
        resolve(message);
      });
    });
  }
}

export class FakeFigma {
  readonly root: { readonly type: 'DOCUMENT'; readonly children: FakePageNode[] } = { type: 'DOCUMENT', children: [] };
  currentPage: FakePageNode;
  readonly ui = new FakeUi();
  readonly images = new Map<string, FakeImage>();
  readonly exports: { nodeId: string; format: string; constraint: unknown; width: number; height: number }[] = [];
  readonly notifications: { message: string; error: boolean }[] = [];
  /** How many nodes the document had at each commitUndo: one entry per undo step. */
  readonly undoCommits: number[] = [];
  readonly scrolledIntoView: string[][] = [];
  readonly storage = new Map<string, unknown>();
  private readonly handlers = new Map<string, Set<() => void>>();

  readonly clientStorage = {
    getAsync: async (key: string): Promise<unknown> =>
      this.storage.has(key) ? structuredClone(this.storage.get(key)) : undefined,
    setAsync: async (key: string, value: unknown): Promise<void> => {
      this.storage.set(key, structuredClone(value));
    },
    deleteAsync: async (key: string): Promise<void> => {
      this.storage.delete(key);
    },
    keysAsync: async (): Promise<string[]> => [...this.storage.keys()],
  };

  readonly viewport = {
    scrollAndZoomIntoView: (nodes: readonly FakeSceneNode[]): void => {
      this.scrolledIntoView.push(nodes.map((node) => node.id));
    },
  };

  constructor() {
    this.currentPage = new FakePageNode(this, 'Page 1');
    this.currentPage.loaded = true;
    this.root.children.push(this.currentPage);
  }

  /** This fake, typed as the real API for code under test (it implements the part Gramstyle uses). */
  get api(): PluginAPI {
    return this as unknown as PluginAPI;
  }

  // ---- building a document (test side) ----

  /**
   * A frame (or another container type) in `parent`. The document is built as a designer would have made it: an
   * instance gets its sublayers, which no plugin could add.
   */
  frame(
    name: string,
    box: { x?: number; y?: number; width: number; height: number },
    appearance?: Appearance,
    options: { type?: ContainerType; parent?: FakeParent } = {},
  ): FakeContainerNode {
    const node = new FakeContainerNode(this, options.type ?? 'FRAME', name, box.width, box.height);
    node.x = box.x ?? 0;
    node.y = box.y ?? 0;
    if (appearance) node.appearance = appearance;
    const parent = options.parent ?? this.currentPage;
    insertInto(parent, parent.children.length, node);
    return node;
  }

  text(name: string, parent: FakeParent = this.currentPage): FakeTextNode {
    const node = new FakeTextNode(this, name, 80, 16);
    insertInto(parent, parent.children.length, node);
    return node;
  }

  /** Another page of the document; not loaded until a plugin asks. */
  page(name: string): FakePageNode {
    const page = new FakePageNode(this, name);
    this.root.children.push(page);
    return page;
  }

  /** Selects nodes like a user would (the plugin hears a selectionchange). */
  select(...nodes: FakeSceneNode[]): void {
    this.currentPage.selection = nodes;
  }

  emit(event: string): void {
    for (const handler of this.handlers.get(event) ?? []) handler();
  }

  /** Every node of the document, depth first. */
  allNodes(): FakeSceneNode[] {
    const nodes: FakeSceneNode[] = [];
    const visit = (node: FakeSceneNode) => {
      nodes.push(node);
      if (node instanceof FakeContainerNode) node.children.forEach(visit);
    };
    for (const page of this.root.children) page.children.forEach(visit);
    return nodes;
  }

  // ---- the plugin API ----

  showUI(html: string, options?: ShowUIOptions): void {
    this.ui.html = html;
    this.ui.options = options ?? {};
  }

  on(event: string, handler: () => void): void {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)?.add(handler);
  }

  off(event: string, handler: () => void): void {
    this.handlers.get(event)?.delete(handler);
  }

  async getNodeByIdAsync(id: string): Promise<FakeSceneNode | FakePageNode | null> {
    for (const page of this.root.children) if (page.id === id) return page;
    return this.allNodes().find((node) => node.id === id) ?? null;
  }

  createImage(data: Uint8Array): {
    hash: string;
    getBytesAsync(): Promise<Uint8Array>;
    getSizeAsync(): Promise<{ width: number; height: number }>;
  } {
    if (!(data instanceof Uint8Array)) throw new TypeError('createImage expects a Uint8Array');
    const size = imageSize(data);
    if (!size) throw new Error('Image type is unsupported');
    if (size.width > FIGMA_IMAGE_LIMIT || size.height > FIGMA_IMAGE_LIMIT) {
      throw new Error(`Image is too large: ${size.width}×${size.height} (the limit is 4096×4096)`);
    }
    const hash = createHash('sha1').update(data).digest('hex');
    const bytes = new Uint8Array(data);
    this.images.set(hash, { hash, bytes, ...size });
    return { hash, getBytesAsync: async () => new Uint8Array(bytes), getSizeAsync: async () => ({ ...size }) };
  }

  createRectangle(): FakeRectangleNode {
    const node = new FakeRectangleNode(this, 'Rectangle');
    this.currentPage.appendChild(node);
    return node;
  }

  commitUndo(): void {
    this.undoCommits.push(this.allNodes().length);
  }

  notify(message: string, options?: NotificationOptions): { cancel(): void } {
    this.notifications.push({ message, error: options?.error ?? false });
    return { cancel: () => undefined };
  }
}

/** Why Figma would refuse `child` in `parent`, or null. */
function refusesChild(parent: FakeContainerNode, child: FakeSceneNode): string | null {
  for (let node: FakeParent | null = parent; node instanceof FakeContainerNode; node = node.parent) {
    if (node.type === 'INSTANCE') return 'Cannot move node. New parent is an instance or is inside of an instance';
  }
  if (parent.type === 'COMPONENT_SET' && !(child instanceof FakeContainerNode && child.type === 'COMPONENT')) {
    return 'Component sets can only contain components';
  }
  return null;
}

function insertInto(parent: FakeParent, index: number, child: FakeSceneNode): void {
  if (child === (parent as unknown)) throw new Error('A node cannot be its own child');
  child.parent?.detach(child);
  parent.children.splice(Math.max(0, Math.min(index, parent.children.length)), 0, child);
  child.parent = parent;
}

function detachFrom(parent: FakeParent, child: FakeSceneNode): void {
  const index = parent.children.indexOf(child);
  if (index >= 0) parent.children.splice(index, 1);
  child.parent = null;
}

function coordinateOrigin(parent: FakeParent): { x: number; y: number } {
  if (parent instanceof FakePageNode) return { x: 0, y: 0 };
  if (parent.type === 'GROUP') return parent.parent ? coordinateOrigin(parent.parent) : { x: 0, y: 0 };
  const box = parent.absoluteBoundingBox;
  return { x: box.x, y: box.y };
}

function groupBounds(group: FakeContainerNode): { width: number; height: number } {
  if (group.children.length === 0) return { width: 0, height: 0 };
  const left = Math.min(...group.children.map((child) => child.x));
  const top = Math.min(...group.children.map((child) => child.y));
  const right = Math.max(...group.children.map((child) => child.x + child.width));
  const bottom = Math.max(...group.children.map((child) => child.y + child.height));
  return { width: right - left, height: bottom - top };
}

function pageOf(node: FakeSceneNode): FakePageNode | null {
  let parent = node.parent;
  while (parent && !(parent instanceof FakePageNode)) parent = parent.parent;
  return parent;
}

/** The area an effect paints: a drop shadow's box moved by its offset, grown by its spread and blur; a blur's. */
function effectBounds(box: Rect, effect: Effect): Rect {
  if (!effect.visible) return box;
  if (effect.type === 'DROP_SHADOW') {
    const grow = (effect.spread ?? 0) + effect.radius;
    return { x: box.x + effect.offset.x - grow, y: box.y + effect.offset.y - grow, width: box.width + 2 * grow, height: box.height + 2 * grow };
  }
  if (effect.type === 'LAYER_BLUR') {
    return { x: box.x - effect.radius, y: box.y - effect.radius, width: box.width + 2 * effect.radius, height: box.height + 2 * effect.radius };
  }
  return box;
}

function union(a: Rect, b: Rect): Rect {
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, width: Math.max(a.x + a.width, b.x + b.width) - x, height: Math.max(a.y + a.height, b.y + b.height) - y };
}

function inside(inner: Rect, outer: Rect): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;
}

/** `appearance` filling `box`, placed in an export of `area` at `scale`. */
async function drawBox(appearance: Appearance, box: Rect, area: Rect, scale: number): Promise<OverlayOptions> {
  const width = Math.max(1, Math.round(box.width * scale));
  const height = Math.max(1, Math.round(box.height * scale));
  const picture =
    'image' in appearance
      ? sharp(appearance.image).resize(width, height, { fit: 'fill' })
      : sharp({ create: { width, height, channels: 4, background: appearance.color } });
  return {
    input: await picture.png().toBuffer(),
    left: Math.round((box.x - area.x) * scale),
    top: Math.round((box.y - area.y) * scale),
  };
}

/** The pixel size Figma exports a width × height area at, for a SCALE, WIDTH or HEIGHT constraint, and the scale. */
export function exportSize(
  width: number,
  height: number,
  constraint?: { type: 'SCALE' | 'WIDTH' | 'HEIGHT'; value: number },
): { width: number; height: number; scale: number } {
  const scale =
    constraint === undefined
      ? 1
      : constraint.type === 'SCALE'
        ? constraint.value
        : constraint.type === 'WIDTH'
          ? constraint.value / width
          : constraint.value / height;
  if (!(scale > 0)) throw new Error(`Invalid export constraint ${JSON.stringify(constraint)}`);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)), scale };
}

/** Width and height from a PNG, GIF or JPEG header, or null if the bytes are none of those. */
export function imageSize(bytes: Uint8Array): { width: number; height: number } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const startsWith = (...signature: number[]) => signature.every((byte, index) => bytes[index] === byte);
  if (startsWith(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a) && bytes.length >= 24) {
    if (String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') return null;
    return positive(view.getUint32(16), view.getUint32(20));
  }
  if ((startsWith(0x47, 0x49, 0x46, 0x38, 0x37, 0x61) || startsWith(0x47, 0x49, 0x46, 0x38, 0x39, 0x61)) && bytes.length >= 10) {
    return positive(view.getUint16(6, true), view.getUint16(8, true));
  }
  if (startsWith(0xff, 0xd8, 0xff)) {
    // Walk the JPEG segments to the frame header (SOF0–SOF15 but DHT, JPG and DAC), which holds the size.
    for (let offset = 2; offset + 9 <= bytes.length; ) {
      if (bytes[offset] !== 0xff) return null;
      const marker = bytes[offset + 1] ?? 0;
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return positive(view.getUint16(offset + 7), view.getUint16(offset + 5));
      }
      offset += 2 + view.getUint16(offset + 2);
    }
  }
  return null;
}

function positive(width: number, height: number): { width: number; height: number } | null {
  return width > 0 && height > 0 ? { width, height } : null;
}
