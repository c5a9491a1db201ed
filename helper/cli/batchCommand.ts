import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { fetchTransport, HelperClient, HelperError, HelperUnreachableError } from '../../shared/helperClient.js';
import { isFinishedJobState, type JobStatus } from '../../shared/protocol.js';
import { BatchSubmission } from './batchSubmission.js';
import { ServerOutage } from './serverOutage.js';
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
export interface BatchItem {
  readonly contentPath: string;
  readonly outputPath: string;
  id: string;
  status: JobStatus | null;
  written: boolean;
}

/**
 * gramstyle batch --server URL --token T <style> <content>… -o DIR [options]: many content images against one style
 * on a helper or a team's gateway, queued in chunks that the user's quota takes (batchSubmission.ts; the gateway's
 * workers on every host take the jobs), with one progress bar over all of them. A job that restarted on another
 * worker gets a line of its own. Each result is written to DIR as the content's name with .png. Ctrl-C cancels the
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
  const submission = new BatchSubmission(client, { style: base64(style!), options });
  const contentImages = contents.map(base64);
  const stderr = process.stderr;
  const bar = new ProgressBar(stderr, progressModeFor(stderr, false), `batch of ${items.length}`);
  /** A line about the batch, on a line of its own rather than into the bar. */
  const say = (line: string): void => {
    bar.finish();
    stderr.write(`gramstyle: ${line}\n`);
  };
  // The first chunk before anything is written: a server that refuses it (a bad token) leaves no folder behind.
  await submitMore(items, contentImages, submission, server!, say);
  await mkdir(outputDir, { recursive: true });

  const submitted = (): BatchItem[] => items.filter((item) => item.id !== '');
  const cancelAll = (): Promise<PromiseSettledResult<unknown>[]> =>
    Promise.allSettled(submitted().filter((item) => !isFinished(item.status)).map((item) => client.cancel(item.id)));
  signal.addEventListener('abort', () => void cancelAll(), { once: true });
  const outage = new ServerOutage(say);
  /** One round: every unfinished job's status (and result, when done), then more of the batch if the quota allows. */
  const pollOnce = async (): Promise<void> => {
    for (const item of submitted().filter((each) => !isFinished(each.status))) {
      // The batch shows no previews: it asks only for one past the job's last iteration, so that no poll carries one.
      const status = await client.jobStatus(item.id, options.iterations);
      if (status.restarts > (item.status?.restarts ?? 0)) {
        say(`${item.contentPath}: restarted on another worker (the one running it stopped)`);
      }
      item.status = status;
      if (status.status === 'done') {
        await writeFile(item.outputPath, await client.result(item.id));
        item.written = true;
      }
    }
    bar.update(...overallProgress(items, options.iterations));
    if (items.every((item) => isFinished(item.status))) return;
    // The rest of a batch larger than the server's quota goes as its jobs start.
    await submitMore(items, contentImages, submission, server!, say);
  };

  try {
    while (!items.every((item) => isFinished(item.status))) {
      signal.throwIfAborted();
      try {
        await pollOnce();
        outage.answered();
      } catch (error) {
        outage.failed(error);
      }
      if (items.every((item) => isFinished(item.status))) break;
      await sleep(POLL_MS, signal);
    }
  } catch (error) {
    // Jobs already queued would run for no one: the command stops here (a server still away keeps them; see below).
    const left = submitted().filter((item) => !isFinished(item.status));
    const canceled = await cancelAll();
    if (left.length > 0 && canceled.some((outcome) => outcome.status === 'rejected')) {
      say(`could not cancel every job; left on the server: ${left.map((item) => item.id).join(', ')}`);
    }
    throw signal.aborted || error instanceof BatchRefusedError ? error : new Error(`lost the batch: ${describe(error, server!)}`);
  } finally {
    bar.finish();
  }

  const failed = items.filter((item) => item.status?.status !== 'done');
  for (const item of items.filter((each) => each.written)) process.stdout.write(`${item.outputPath}\n`);
  for (const item of failed) {
    const why = item.status?.error?.message ?? item.status?.status ?? 'unknown';
    say(`${item.contentPath}: ${why}`);
  }
  say(`${items.length - failed.length} of ${items.length} done, in ${outputDir}`);
  return failed.length > 0 ? 1 : 0;
}

/**
 * DIR/<content name>.png for each content; a name taken already gets -2, -3… (up to the first free one: `a/f.png
 * b/f.png f-2.png` give f, f-2 and f-2-2, no result overwriting another).
 */
export function planOutputs(contentPaths: readonly string[], outputDir: string): BatchItem[] {
  const taken = new Set<string>();
  return contentPaths.map((contentPath) => {
    const stem = basename(contentPath, extname(contentPath));
    let name = stem;
    for (let suffix = 2; taken.has(name); suffix++) name = `${stem}-${suffix}`;
    taken.add(name);
    return { contentPath, outputPath: join(outputDir, `${name}.png`), id: '', status: null, written: false };
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
  return status !== null && isFinishedJobState(status.status);
}

/** The server refused a chunk of the batch for another reason than its quota. */
class BatchRefusedError extends Error {}

/** Queues the next of the batch's images the server has room for, if any are left to send. */
async function submitMore(
  items: readonly BatchItem[],
  contentImages: readonly string[],
  submission: BatchSubmission,
  server: string,
  say: (line: string) => void,
): Promise<void> {
  const unsent = items.flatMap((item, index) => (item.id === '' ? [index] : []));
  if (unsent.length === 0) return;
  const waiting = items.filter((item) => item.id !== '' && (item.status === null || item.status.status === 'queued')).length;
  const hadRefusal = submission.refusal !== null;
  const ids = await submission.next(unsent.map((index) => contentImages[index]!), waiting).catch((error: unknown) => {
    throw new BatchRefusedError(`the server refused the batch: ${describe(error, server)}`);
  });
  ids.forEach((id, position) => (items[unsent[position]!]!.id = id));
  if (!hadRefusal && submission.refusal !== null) {
    say(`the server takes no more jobs for now (${submission.refusal}); sending the rest as jobs start`);
  }
}

/**
 * Iterations of all jobs done and to do (`iterations` each for those not sent yet), and a line of counts: the one
 * bar over the whole batch.
 */
function overallProgress(items: readonly BatchItem[], iterations: number): [done: number, total: number, detail: string] {
  let done = 0;
  let total = 0;
  const counts = { done: 0, running: 0, queued: 0, failed: 0, canceled: 0, unsent: 0 };
  for (const { id, status } of items) {
    if (!status) {
      total += iterations;
      if (id === '') counts.unsent += 1;
      continue;
    }
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
