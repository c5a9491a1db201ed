import { createHash } from 'node:crypto';
import type {
  ExportSettings,
  NotificationOptions,
  Paint,
  PluginAPI,
  Rect,
  ShowUIOptions,
} from '@figma/plugin-typings/plugin-api-standalone.js';
import sharp from 'sharp';

/**
 * A stand-in for Figma's `figma` global that behaves like the documented plugin API, for the parts Gramstyle uses:
 * a document of pages and nodes (id, name, type, x, y, width, height, parent, children), exportAsync rendering real
 * PNG or JPEG bytes at the requested constraint (with sharp), createImage checking the bytes like Figma does (PNG,
 * JPEG or GIF, at most 4096 px a side), selection, events, clientStorage, notify, commitUndo and the viewport, all
 * recorded for assertions. `api` hands it to code typed against the real API.
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
  x = 0;
  y = 0;
  protected ownWidth: number;
  protected ownHeight: number;
  visible = true;
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

  async exportAsync(settings?: ExportSettings): Promise<Uint8Array> {
    if (this.removed) throw new Error('The node with id ' + this.id + ' does not exist');
    const format = settings?.format ?? 'PNG';
    if (format !== 'PNG' && format !== 'JPG') throw new Error(`the fake exports PNG and JPG only, not ${format}`);
    if (this.exportFailure) throw new Error(this.exportFailure);
    const constraint = settings && 'constraint' in settings ? settings.constraint : undefined;
    const { width, height } = exportSize(this.width, this.height, constraint);
    const picture =
      'image' in this.appearance
        ? sharp(this.appearance.image).resize(width, height, { fit: 'fill' })
        : sharp({ create: { width, height, channels: 4, background: this.appearance.color } });
    const bytes = format === 'PNG' ? await picture.png().toBuffer() : await picture.jpeg().toBuffer();
    this.figma.exports.push({ nodeId: this.id, format, constraint: constraint ?? null, width, height });
    return new Uint8Array(bytes);
  }
}

export class FakeContainerNode extends FakeSceneNode {
  readonly children: FakeSceneNode[] = [];

  constructor(
    figma: FakeFigma,
    readonly type: ContainerType,
    name: string,
    width: number,
    height: number,
  ) {
    super(figma, name, width, height);
  }

  // A group has no box of its own: it wraps its children.
  override get width(): number {
    return this.type === 'GROUP' ? groupBounds(this).width : this.ownWidth;
  }
  override get height(): number {
    return this.type === 'GROUP' ? groupBounds(this).height : this.ownHeight;
  }

  appendChild(child: FakeSceneNode): void {
    this.insertChild(this.children.length, child);
  }

  insertChild(index: number, child: FakeSceneNode): void {
    insertInto(this, index, child);
  }

  detach(child: FakeSceneNode): void {
    detachFrom(this, child);
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

  appendChild(child: FakeSceneNode): void {
    this.insertChild(this.children.length, child);
  }

  insertChild(index: number, child: FakeSceneNode): void {
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
    this.root.children.push(this.currentPage);
  }

  /** This fake, typed as the real API for code under test (it implements the part Gramstyle uses). */
  get api(): PluginAPI {
    return this as unknown as PluginAPI;
  }

  // ---- building a document (test side) ----

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
    (options.parent ?? this.currentPage).appendChild(node);
    return node;
  }

  text(name: string, parent: FakeParent = this.currentPage): FakeTextNode {
    const node = new FakeTextNode(this, name, 80, 16);
    parent.appendChild(node);
    return node;
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

  createImage(data: Uint8Array): { hash: string; getBytesAsync(): Promise<Uint8Array> } {
    if (!(data instanceof Uint8Array)) throw new TypeError('createImage expects a Uint8Array');
    const size = imageSize(data);
    if (!size) throw new Error('Image type is unsupported');
    if (size.width > FIGMA_IMAGE_LIMIT || size.height > FIGMA_IMAGE_LIMIT) {
      throw new Error(`Image is too large: ${size.width}×${size.height} (the limit is 4096×4096)`);
    }
    const hash = createHash('sha1').update(data).digest('hex');
    const bytes = new Uint8Array(data);
    this.images.set(hash, { hash, bytes, ...size });
    return { hash, getBytesAsync: async () => new Uint8Array(bytes) };
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

/** The pixel size Figma exports a width × height node at, for a SCALE, WIDTH or HEIGHT constraint. */
export function exportSize(
  width: number,
  height: number,
  constraint?: { type: 'SCALE' | 'WIDTH' | 'HEIGHT'; value: number },
): { width: number; height: number } {
  const scale =
    constraint === undefined
      ? 1
      : constraint.type === 'SCALE'
        ? constraint.value
        : constraint.type === 'WIDTH'
          ? constraint.value / width
          : constraint.value / height;
  if (!(scale > 0)) throw new Error(`Invalid export constraint ${JSON.stringify(constraint)}`);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
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
