/** Percentile (nearest-rank) of a list of samples. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Rounds for reporting. */
export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Times `fn` (ms) over `iterations` calls after `warmup` untimed ones. */
export async function timeIt(iterations: number, warmup: number, fn: (i: number) => unknown): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const out: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

/** The median (the mean of the two middle samples for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Round trips of two bots taken in turn (`a`, then `b`, each awaited), so load on the machine falls on
 * both alike; the first `warmup` pairs are left out. Returns the times of each, in ms.
 */
export async function alternate(
  iterations: number,
  warmup: number,
  a: (i: number) => Promise<number>,
  b: (i: number) => Promise<number>,
): Promise<[number[], number[]]> {
  const as: number[] = [];
  const bs: number[] = [];
  for (let i = 0; i < warmup + iterations; i++) {
    const ta = await a(i);
    const tb = await b(i);
    if (i >= warmup) {
      as.push(ta);
      bs.push(tb);
    }
  }
  return [as, bs];
}

/**
 * What an index holds in memory: the JavaScript heap plus the array buffers (typed arrays keep their contents outside
 * the heap, and heapUsed alone would leave out most of an index built on them).
 */
export function heapBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/**
 * `heapBytes()` after collecting garbage and letting V8 release the freed array buffers (it frees them after the
 * collection, so a figure read at once can still count an earlier index's, and a difference come out negative).
 */
export async function settledHeapBytes(): Promise<number> {
  for (let i = 0; i < 2; i++) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return heapBytes();
}
