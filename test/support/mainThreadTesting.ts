import sharp from 'sharp';

import { GramstyleMain } from '../../plugin/main/gramstyleMain.js';
import { type MainToUiMessage, mainToUiMessageSchema, type MessageOf } from '../../shared/pluginMessages.js';
import { FakeFigma, type FakeSceneNode } from './fakeFigma.js';
import { sharedImagePath } from './sharedAssets.js';

/** What the main thread's tests (test/pluginMain*.test.ts) share: the real GramstyleMain on a FakeFigma. */

export const HELPER_URL = 'http://localhost:7415';

export type Posted<T extends MainToUiMessage['type']> = MessageOf<MainToUiMessage, T>;

/** The main thread, started for the local helper on a fresh FakeFigma, and ways to talk to it as the panel does. */
export function setup() {
  const figma = new FakeFigma();
  const main = new GramstyleMain(figma.api, { html: '<p>panel</p>', helperUrl: HELPER_URL });
  main.start();
  /** Sends a panel message and waits until the main thread has handled it. */
  const send = async (message: unknown) => {
    await figma.ui.fromPanel(message);
  };
  /** Every message of one type the main thread posted, each checked against the shared schema. */
  const posted = <T extends MainToUiMessage['type']>(type: T): Posted<T>[] =>
    figma.ui.posted
      .map((message) => mainToUiMessageSchema.parse(message))
      .filter((message): message is Posted<T> => message.type === type);
  const last = <T extends MainToUiMessage['type']>(type: T): Posted<T> => {
    const all = posted(type);
    const message = all[all.length - 1];
    if (!message) throw new Error(`the main thread posted no ${type}`);
    return message;
  };
  /** Waits until the main thread has said all it will about earlier selection changes (Figma reports them late). */
  const settle = async () => {
    for (let count = -1; count !== figma.ui.posted.length; ) {
      count = figma.ui.posted.length;
      await new Promise((resolvePromise) => setTimeout(resolvePromise, 30));
    }
  };
  /** Selects nodes as a user would and waits for the main thread to tell the panel. */
  const select = async (...nodes: FakeSceneNode[]) => {
    await settle();
    const before = posted('selection').length;
    figma.currentPage.selection = nodes;
    await until(() => posted('selection').length > before);
    await settle();
  };
  return { figma, main, send, posted, last, select };
}

export const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);

export async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the main thread');
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 5));
  }
}

export async function pngSize(bytes: Uint8Array): Promise<{ width: number; height: number; format: string }> {
  const { width, height, format } = await sharp(bytes).metadata();
  return { width: width ?? 0, height: height ?? 0, format: format ?? '' };
}

export function solidPng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#3366cc' } }).png().toBuffer();
}

/** A content frame (in a parent frame, between siblings) and a style frame, as a designer would have them. */
export function twoFrames(figma: FakeFigma) {
  const board = figma.frame('Board', { x: 0, y: 0, width: 3000, height: 2000 });
  const content = figma.frame('Photo', { x: 100, y: 200, width: 400, height: 300 }, { image: sharedImagePath('golden_gate.jpg') }, { parent: board });
  const style = figma.frame('Painting', { x: 100, y: 800, width: 300, height: 600 }, { image: sharedImagePath('starry_night.jpg') }, { parent: board });
  return { board, content, style };
}
