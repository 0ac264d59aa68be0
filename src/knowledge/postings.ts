/**
 * Building the question index (src/knowledge/search.ts): each point's context terms, and the BM25
 * postings laid out flat. Build-time only; searching reads what `PostingsBuilder.finish` returns.
 */
import type { Point } from './model.js';
import type { TermTable } from './term-table.js';

/**
 * The context term ids of points (weighted by `contextWeight` in the postings), distinct, in first-seen order: a topic's
 * id, title and aliases and the slide title, plus the parent bullet for a sub-bullet. Worked out
 * once per slide and per parent, keyed by the strings the points share. Tokenising the parts
 * apart gives the same terms as tokenising them joined by spaces, as the index used to.
 */
export class Contexts {
  private readonly slides = new Map<string, { ids: number[]; parents?: Map<string, number[]> }>();
  /** Per term id: the number of the `distinct` call that last saw it. */
  private seen = new Int32Array(1 << 12);
  private calls = 0;
  private keyTerms: readonly number[] = [];
  private readonly own: number[] = [];

  constructor(private readonly table: TermTable) {}

  /** The points that follow are a topic's, whose id, title and aliases have these term ids. */
  startTopic(keyTerms: readonly number[]): void {
    this.keyTerms = keyTerms;
    this.slides.clear();
  }

  /** An empty array for a point's own term ids (reused point after point). */
  scratch(): number[] {
    this.own.length = 0;
    return this.own;
  }

  of(p: Point): readonly number[] {
    let slide = this.slides.get(p.slideTitle);
    if (!slide) this.slides.set(p.slideTitle, (slide = { ids: this.distinct(this.keyTerms, p.slideTitle) }));
    if (!p.parent) return slide.ids;
    slide.parents ??= new Map();
    let withParent = slide.parents.get(p.parent);
    if (!withParent) slide.parents.set(p.parent, (withParent = this.distinct(slide.ids, p.parent)));
    return withParent;
  }

  /** `base` followed by the term ids of `text`, each once, in first-seen order. */
  private distinct(base: readonly number[], text: string): number[] {
    const ids = this.table.ids(text, [...base]);
    if (this.table.terms.length > this.seen.length) this.seen = grow(this.seen, this.table.terms.length);
    const { seen } = this;
    const call = ++this.calls;
    let n = 0;
    for (const id of ids) {
      if (seen[id] === call) continue;
      seen[id] = call;
      ids[n++] = id;
    }
    ids.length = n;
    return ids;
  }
}

/**
 * Collects postings point by point (BM25 term frequencies: 1 per own word, `contextWeight` per
 * context term), then lays them out flat (see SearchIndex). A point's frequencies are
 * summed in a scratch array indexed by term id; its (term, frequency) pairs go to one growing
 * buffer, and `finish` moves them to their terms' slots: no Map per point, no list per term.
 */
export class PostingsBuilder {
  /** Per term id: points so far; and the current point's frequency (zeroed after each point). */
  private df = new Int32Array(1 << 12);
  private tf = new Float64Array(1 << 12);
  /** The current point's term ids in first-seen order (own words, then context): its length sums in that order. */
  private readonly touched: number[] = [];
  private pairTerm = new Int32Array(1 << 16);
  private pairTf = new Float32Array(1 << 16);
  private pairs = 0;
  private points = 0;
  private readonly pointEnd: Int32Array;
  private readonly length: Float32Array;
  /** Term ids in the order of their first posting: the order of the slots. */
  private readonly order: number[] = [];

  constructor(
    points: number,
    private readonly contextWeight: number,
  ) {
    this.pointEnd = new Int32Array(points);
    this.length = new Float32Array(points);
  }

  /** Adds the next point; `terms` is how many term ids exist so far. */
  add(own: readonly number[], ctx: readonly number[], terms: number): void {
    if (terms > this.tf.length) {
      this.tf = grow(this.tf, terms);
      this.df = grow(this.df, terms);
    }
    const { tf, df, touched } = this;
    for (const id of own) {
      if (tf[id] === 0) touched.push(id);
      tf[id]! += 1;
    }
    for (const id of ctx) {
      if (tf[id] === 0) touched.push(id);
      tf[id]! += this.contextWeight;
    }
    if (this.pairs + touched.length > this.pairTerm.length) {
      this.pairTerm = grow(this.pairTerm, this.pairs + touched.length);
      this.pairTf = grow(this.pairTf, this.pairs + touched.length);
    }
    const { pairTerm, pairTf } = this;
    let pairs = this.pairs;
    let len = 0;
    for (const id of touched) {
      const f = tf[id]!;
      len += f;
      tf[id] = 0;
      if (df[id] === 0) this.order.push(id);
      df[id]! += 1;
      pairTerm[pairs] = id;
      pairTf[pairs++] = f;
    }
    touched.length = 0;
    this.pairs = pairs;
    this.pointEnd[this.points] = pairs;
    this.length[this.points++] = len;
  }

  /**
   * Slots in first-posting order (`slotOfTerm`: term id → slot, -1 for a term no point uses; `termOfSlot`: the
   * reverse), then every point's pairs moved to its terms' slots (in point order). `terms`: how many term ids exist.
   */
  finish(terms: number): { slotOfTerm: Int32Array; termOfSlot: Int32Array; start: Int32Array; doc: Int32Array; tf: Float32Array; length: Float32Array } {
    const { order, df, pairTerm, pairTf, pointEnd } = this;
    const slotOf = new Int32Array(terms).fill(-1);
    const termOfSlot = Int32Array.from(order);
    const start = new Int32Array(order.length + 1);
    for (let slot = 0; slot < order.length; slot++) {
      const id = order[slot]!;
      slotOf[id] = slot;
      start[slot + 1] = start[slot]! + df[id]!;
    }
    const fill = start.slice(0, order.length);
    const doc = new Int32Array(this.pairs);
    const tf = new Float32Array(this.pairs);
    for (let i = 0, j = 0; i < this.points; i++) {
      for (; j < pointEnd[i]!; j++) {
        const slot = slotOf[pairTerm[j]!]!;
        const k = fill[slot]!;
        fill[slot] = k + 1;
        doc[k] = i;
        tf[k] = pairTf[j]!;
      }
    }
    return { slotOfTerm: slotOf, termOfSlot, start, doc, tf, length: this.length };
  }
}

/** A copy of `a` with room for at least `n` entries (doubling), zero-filled beyond the old end. */
export function grow<A extends Int32Array | Float32Array | Float64Array>(a: A, n: number): A {
  let size = a.length;
  while (size < n) size *= 2;
  const b = new (a.constructor as new (n: number) => A)(size);
  b.set(a);
  return b;
}
