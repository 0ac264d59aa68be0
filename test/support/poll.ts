/**
 * Polls `cond` until it holds (no fixed sleeps): every `everyMs` (default 10), for at most `timeoutMs`
 * (default 20 s, generous for a loaded machine). The timeout error names `what` and adds `context()`.
 */
export async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  opts: { timeoutMs?: number; everyMs?: number; context?: () => string } = {},
): Promise<void> {
  const end = Date.now() + (opts.timeoutMs ?? 20_000);
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${opts.context ? `\n${opts.context()}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 10));
  }
}
