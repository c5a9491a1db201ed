/** Measuring what hostile traffic costs a helper that runs in the test's own process. */

/**
 * Runs `work` and samples this process's resident memory meanwhile: how far it rose above where it was before, at
 * its highest. Allocate the inputs before calling, so that only what the helper does with them counts.
 */
export async function peakRssGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growthBytes: number }> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, growthBytes: peak - before };
  } finally {
    clearInterval(sampler);
  }
}

/** Waits (at most timeoutMs) until a line from index `from` on matches; throws, naming the pattern, if none does. */
export async function waitForLine(lines: readonly string[], from: number, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = lines.slice(from).find((line) => pattern.test(line));
    if (found !== undefined) return found;
    if (Date.now() > deadline) {
      throw new Error(`no line matched ${pattern} within ${timeoutMs} ms; got:\n${lines.slice(from).join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
