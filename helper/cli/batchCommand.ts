import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { fetchTransport, HelperClient, HelperError, HelperUnreachableError } from '../../shared/helperClient.js';
import type { JobStatus } from '../../shared/protocol.js';
import { OPTION_FLAG_CONFIG, parseOptionFlags } from './jobArgs.js';
import { ProgressBar, progressModeFor } from './progressBar.js';
import { parseCommandArgs } from './teamArgs.js';
import { UsageError } from './usageError.js';

const BATCH_FLAGS = {
  ...OPTION_FLAG_CONFIG,
  server: { type: 'string' },
  token: { type: 'string' },
  output: { type: 'string', short: 'o' },
} as const;

const POLL_MS = 1000;

/** One content image of the batch: where it comes from, where its result goes, and its job. */
interface BatchItem {
  readonly contentPath: string;
  readonly outputPath: string;
  id: string;
  status: JobStatus | null;
  written: boolean;
}

/**
 * gramstyle batch --server URL --token T <style> <content>… -o DIR [options]: many content images against one style
 * on a helper or a team's gateway, queued in one request (the gateway's workers on every host take its jobs), with one
 * progress bar over all of them. Each result is written to DIR as the content's name with .png. Ctrl-C cancels the
 * jobs not finished. Exit 1 when any job failed.
 */
export async function batchCommand(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, BATCH_FLAGS, true);
  const problems: string[] = [];
  const server = values.server;
  if (server === undefined) problems.push('batch: missing --server URL, the helper or gateway to send the jobs to');
  else if (!/^https?:\/\/[^/]+/i.test(server)) problems.push(`--server: expected an http:// or https:// URL, got "${server}"`);
  const token = values.token ?? process.env.GRAMSTYLE_TOKEN;
  if (token === undefined) problems.push('batch: missing --token T (or GRAMSTYLE_TOKEN), your token for the server');
  const [stylePath, ...contentPaths] = positionals;
  if (stylePath === undefined) problems.push('batch: missing the style image');
  if (contentPaths.length === 0) problems.push('batch: missing the content images (one job each)');
  if (values.output === undefined) problems.push('batch: missing -o DIR, the folder to write the results to');
  const options = parseOptionFlags(values as Record<string, string | boolean | undefined>, undefined, problems);
  if (problems.length > 0 || !options) throw new UsageError(problems);

  const outputDir = resolve(values.output!);
  const items = planOutputs(contentPaths, outputDir);
  const [style, ...contents] = await Promise.all([stylePath!, ...contentPaths].map((path) => readImageFile(path)));

  const client = new HelperClient(fetchTransport(server!));
  client.token = token!;
  const ids = await client.createBatch({ contents: contents.map(base64), style: base64(style!), options }).catch((error: unknown) => {
    throw new Error(`the server refused the batch: ${describe(error, server!)}`);
  });
  ids.forEach((id, index) => (items[index]!.id = id));
  await mkdir(outputDir, { recursive: true });

  const stderr = process.stderr;
  const bar = new ProgressBar(stderr, progressModeFor(stderr, false), `batch of ${items.length}`);
  const cancelAll = (): Promise<unknown> =>
    Promise.allSettled(items.filter((item) => !isFinished(item.status)).map((item) => client.cancel(item.id)));
  signal.addEventListener('abort', () => void cancelAll(), { once: true });
  try {
    while (!items.every((item) => isFinished(item.status))) {
      signal.throwIfAborted();
      for (const item of items.filter((each) => !isFinished(each.status))) {
        item.status = await client.jobStatus(item.id);
        if (item.status.status === 'done') {
          await writeFile(item.outputPath, await client.result(item.id));
          item.written = true;
        }
      }
      bar.update(...overallProgress(items));
      if (!items.every((item) => isFinished(item.status))) await sleep(POLL_MS, signal);
    }
  } catch (error) {
    if (signal.aborted) await cancelAll();
    throw signal.aborted ? error : new Error(`lost the batch: ${describe(error, server!)}`);
  } finally {
    bar.finish();
  }

  const failed = items.filter((item) => item.status?.status !== 'done');
  for (const item of items.filter((each) => each.written)) process.stdout.write(`${item.outputPath}\n`);
  for (const item of failed) {
    const why = item.status?.error?.message ?? item.status?.status ?? 'unknown';
    stderr.write(`gramstyle: ${item.contentPath}: ${why}\n`);
  }
  stderr.write(`gramstyle: ${items.length - failed.length} of ${items.length} done, in ${outputDir}\n`);
  return failed.length > 0 ? 1 : 0;
}

/** DIR/<content name>.png for each content; a name seen before gets -2, -3… */
function planOutputs(contentPaths: readonly string[], outputDir: string): BatchItem[] {
  const used = new Map<string, number>();
  return contentPaths.map((contentPath) => {
    const stem = basename(contentPath, extname(contentPath));
    const seen = (used.get(stem) ?? 0) + 1;
    used.set(stem, seen);
    const outputPath = join(outputDir, `${seen > 1 ? `${stem}-${seen}` : stem}.png`);
    return { contentPath, outputPath, id: '', status: null, written: false };
  });
}

async function readImageFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new UsageError([`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`]);
  }
}

function isFinished(status: JobStatus | null): boolean {
  return status !== null && ['done', 'failed', 'canceled'].includes(status.status);
}

/** Iterations of all jobs done and to do, and a line of counts: the one bar over the whole batch. */
function overallProgress(items: readonly BatchItem[]): [done: number, total: number, detail: string] {
  let done = 0;
  let total = 0;
  const counts = { done: 0, running: 0, queued: 0, failed: 0, canceled: 0 };
  for (const { status } of items) {
    if (!status) continue;
    total += status.progress.total;
    done += status.status === 'done' ? status.progress.total : status.progress.iteration;
    counts[status.status] += 1;
  }
  const detail = Object.entries(counts)
    .filter(([, count]) => count > 0)
    .map(([state, count]) => `${count} ${state}`)
    .join(', ');
  return [done, total, detail];
}

function describe(error: unknown, server: string): string {
  if (error instanceof HelperUnreachableError) return `nothing answered at ${server} (${error.message})`;
  if (error instanceof HelperError) return `${error.message} (HTTP ${error.status})`;
  return error instanceof Error ? error.message : String(error);
}

function base64(bytes: Buffer): string {
  return bytes.toString('base64');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
