/**
 * Building the question index (src/knowledge/search.ts): each point's context, and the BM25
 * postings laid out flat. Build-time only; searching reads what `PostingsBuilder.finish` returns.
 *
 * A point's context is its topic's names (id, title, aliases), its slide's title and, for a
 * sub-bullet, its parent bullet: each context term counts `contextWeight` in the point's term
 * frequency, once. The names are the larger share (a dozen terms, shared by every point of the
 * topic), so they are not posted point by point: a term's postings are the points whose own words,
 * slide title or parent use it, plus the topics whose names use it, each standing for all of its
 * points (`Index`). The scores are the same as with every context term posted on every point.
 */
import type { Point } from './model.js';
import type { TermTable } from './term-table.js';

/** A point's context apart from its topic's names: the terms of its slide title and parent that are not names. */
export interface PointContext {
  /** Distinct term ids, not among the topic's names. */
  readonly ids: readonly number[];
  /** How many distinct terms the whole context has (the topic's names included). */
  readonly size: number;
}

/**
 * The contexts of a topic's points, worked out once per slide and per parent (keyed by the
 * strings the points share). Tokenising the parts apart gives the same terms as tokenising
 * them joined by spaces.
 */
export class Contexts {
  private readonly slides = new Map<string, PointContext & { parents?: Map<string, PointContext> }>();
  /** Per term id: the number of the `distinct` call that last saw it. */
  private seen = new Int32Array(1 << 12);
  private calls = 0;
  /** The previous point's slide title and context. */
  private lastTitle: string | undefined;
  private lastSlide: (PointContext & { parents?: Map<string, PointContext> }) | undefined;
  /** The current topic's names as distinct term ids. */
  private names: number[] = [];

  /** `postings`: where the current topic's names are marked. */
  constructor(
    private readonly table: TermTable,
    private readonly postings: PostingsBuilder,
  ) {}

  /** The points that follow are topic number `k`'s (`points` of them), whose id, title and aliases have these term ids. */
  startTopic(k: number, nameIds: readonly number[], points: number): void {
    this.slides.clear();
    this.lastTitle = undefined;
    this.names = this.distinct([], nameIds);
    this.postings.addTopic(k, this.names, points, this.table.terms.length);
  }

  of(p: Point): PointContext {
    // A slide's points come one after another: most points have the previous one's slide.
    let slide = this.lastTitle === p.slideTitle ? this.lastSlide : this.slides.get(p.slideTitle);
    if (!slide) this.slides.set(p.slideTitle, (slide = this.context([], p.slideTitle)));
    this.lastTitle = p.slideTitle;
    this.lastSlide = slide;
    if (!p.parent) return slide;
    slide.parents ??= new Map();
    let withParent = slide.parents.get(p.parent);
    if (!withParent) slide.parents.set(p.parent, (withParent = this.context(slide.ids, p.parent)));
    return withParent;
  }

  /** `base` followed by the terms of `text` that are neither in `base` nor names, each once. */
  private context(base: readonly number[], text: string): PointContext {
    const ids = this.distinct(base, this.table.ids(text, []));
    let n = base.length;
    this.postings.reserve(this.table.terms.length);
    for (let j = base.length; j < ids.length; j++) if (!this.postings.isName(ids[j]!)) ids[n++] = ids[j]!;
    ids.length = n;
    return { ids, size: this.names.length + n };
  }

  /** `base` followed by `more`, each id once, in first-seen order (a new array). */
  private distinct(base: readonly number[], more: readonly number[]): number[] {
    if (this.table.terms.length > this.seen.length) this.seen = grow(this.seen, this.table.terms.length);
    const { seen } = this;
    const call = ++this.calls;
    const ids: number[] = [];
    for (const id of base) {
      seen[id] = call;
      ids.push(id);
    }
    for (const id of more) {
      if (seen[id] === call) continue;
      seen[id] = call;
      ids.push(id);
    }
    return ids;
  }
}

/** The flat index: per slot (a term some point or topic uses), its points and its topics. */
export interface Index {
  /** Term id → slot (-1: no postings), and the reverse. */
  slotOfTerm: Int32Array;
  termOfSlot: Int32Array;
  /**
   * Slot s's points are postings `start[s] .. start[s + 1]`: posting j is the point `post[2j]` (ascending) and its
   * term frequency `postTf[2j + 1]` (a Float32Array over the same memory, so a posting is one read): own words
   * count 1 each, and the slide title or parent `contextWeight` (so a frequency is an integer when neither has the term).
   */
  start: Int32Array;
  post: Int32Array;
  postTf: Float32Array;
  /**
   * Slot s's topics, whose names use the term: `topic[topicStart[s] .. topicStart[s + 1])` (ascending). Each of their
   * points has the term in its context, whether or not it is among the point's postings.
   */
  topicStart: Int32Array;
  topic: Int32Array;
  /** Per slot: the points whose own words or context use the term (BM25's document frequency). */
  df: Int32Array;
  /** Per point: its length, own words plus `contextWeight` per context term. */
  length: Float32Array;
}

/** What the builder keeps per term id, side by side (`PostingsBuilder.term`): one cache line holds what a term's posting reads. */
const TF = 0; // the current point's own frequency (zeroed after each point)
const POSTED = 1; // postings so far
const CONTEXT = 2; // the number (+1) of the last point whose slide title or parent has it
const NAMED = 3; // the number (+1) of the last topic whose names have it
const TOPICS = 4; // topics whose names use it (with points)
const NAME_POINTS = 5; // the points of those topics
const OVERLAP = 6; // postings on those topics' points
const SLOT = 7; // its slot + 1 (0: none yet)
const STRIDE = 8;

/**
 * Collects postings point by point, then lays them out flat (see `Index`). A point's own
 * frequencies are summed in a scratch array indexed by term id; its (slot, frequency) pairs go to
 * one growing buffer, and `finish` moves them to their slots: no Map per point, no list per term.
 */
export class PostingsBuilder {
  /** Per term id, STRIDE ints (see TF … SLOT). */
  private term = new Int32Array(STRIDE << 12);
  /** The current topic's number + 1. */
  private topic = 0;
  /** The current point's own term ids (`own`, as scanned), and its distinct ones in first-seen order (`touched`): its length sums in that order. */
  private own = new Int32Array(256);
  private touched = new Int32Array(256);
  private ownCount = 0;
  /** Sized for about 16 pairs per point (own words and slide title): grown if need be. */
  private pairSlot: Int32Array;
  private pairTf: Float32Array;
  private pairs = 0;
  /** (slot, topic) pairs of topic names, in topic order. */
  private nameSlot = new Int32Array(1 << 12);
  private nameTopic = new Int32Array(1 << 12);
  private namePairs = 0;
  private points = 0;
  private readonly pointEnd: Int32Array;
  private readonly length: Float32Array;
  /** Term ids by slot: the order they were first posted in (points or topics). */
  private readonly order: number[] = [];

  constructor(
    points: number,
    private readonly contextWeight: number,
  ) {
    this.pointEnd = new Int32Array(points);
    this.length = new Float32Array(points);
    this.pairSlot = new Int32Array(16 * points + 1024);
    this.pairTf = new Float32Array(16 * points + 1024);
  }

  /** Room for term ids below `terms`. */
  reserve(terms: number): void {
    if (STRIDE * terms > this.term.length) this.term = grow(this.term, STRIDE * terms);
  }

  /** Whether term `id` is among the current topic's names. */
  isName(id: number): boolean {
    return STRIDE * id + NAMED < this.term.length && this.term[STRIDE * id + NAMED] === this.topic;
  }

  /** The slot of term `id` (at `x` in `term`), given when it is first posted. */
  private slotOf(id: number, x: number): number {
    const slot = this.term[x + SLOT]!;
    if (slot !== 0) return slot - 1;
    this.term[x + SLOT] = this.order.push(id);
    return this.order.length - 1;
  }

  /** The points that follow (`points` of them) are topic number `k`'s, whose names have these distinct term ids. */
  addTopic(k: number, names: readonly number[], points: number, terms: number): void {
    this.reserve(terms);
    const { term } = this;
    this.topic = k + 1;
    for (const id of names) term[STRIDE * id + NAMED] = this.topic;
    if (points === 0) return;
    if (this.namePairs + names.length > this.nameSlot.length) {
      this.nameSlot = grow(this.nameSlot, this.namePairs + names.length);
      this.nameTopic = grow(this.nameTopic, this.namePairs + names.length);
    }
    for (const id of names) {
      const x = STRIDE * id;
      term[x + TOPICS]! += 1;
      term[x + NAME_POINTS]! += points;
      this.nameSlot[this.namePairs] = this.slotOf(id, x);
      this.nameTopic[this.namePairs++] = k;
    }
  }

  /** The next point's own term ids: `ids[0 .. n)` (copied). */
  setOwn(ids: Int32Array, n: number): void {
    if (n > this.own.length) {
      this.own = new Int32Array(2 * n);
      this.touched = new Int32Array(2 * n);
    }
    for (let j = 0; j < n; j++) this.own[j] = ids[j]!;
    this.ownCount = n;
  }

  /** Adds the next point of the current topic: its own term ids (`setOwn`), and its context apart from names; `terms` is how many term ids exist so far. */
  add(ctx: PointContext, terms: number): void {
    this.reserve(terms);
    const { term, own, touched, topic, contextWeight: w } = this;
    const mark = ++this.points;
    for (const id of ctx.ids) term[STRIDE * id + CONTEXT] = mark;
    let distinct = 0;
    for (let j = 0; j < this.ownCount; j++) {
      const x = STRIDE * own[j]!;
      if (term[x] === 0) touched[distinct++] = own[j]!;
      term[x]! += 1;
    }
    const most = this.pairs + distinct + ctx.ids.length;
    if (most > this.pairSlot.length) {
      this.pairSlot = grow(this.pairSlot, most);
      this.pairTf = grow(this.pairTf, most);
    }
    const { pairSlot, pairTf } = this;
    let pairs = this.pairs;
    // The length sums as if every context term were posted after the own ones: own words first (with the context's
    // share when the context has them too), then one share per context term the point's own words lack.
    let len = 0;
    let shared = 0;
    for (let j = 0; j < distinct; j++) {
      const id = touched[j]!;
      const x = STRIDE * id;
      const f = term[x + TF]!;
      term[x + TF] = 0;
      if (term[x + CONTEXT] === mark) {
        term[x + CONTEXT] = 0; // posted here, not again as context only
        shared++;
        len += f + w;
        pairTf[pairs] = f + w;
      } else if (term[x + NAMED] === topic) {
        shared++;
        len += f + w;
        term[x + OVERLAP]! += 1;
        pairTf[pairs] = f;
      } else {
        len += f;
        pairTf[pairs] = f;
      }
      term[x + POSTED]! += 1;
      pairSlot[pairs++] = this.slotOf(id, x);
    }
    for (const id of ctx.ids) {
      const x = STRIDE * id;
      if (term[x + CONTEXT] !== mark) continue; // also an own word: posted above
      term[x + POSTED]! += 1;
      pairSlot[pairs] = this.slotOf(id, x);
      pairTf[pairs++] = w;
    }
    for (let j = ctx.size - shared; j > 0; j--) len += w;
    this.pairs = pairs;
    this.pointEnd[mark - 1] = pairs;
    this.length[mark - 1] = len;
  }

  /** Every point's pairs moved to their slots (in point order), and every topic to its name terms' slots. `terms`: how many term ids exist. */
  finish(terms: number): Index {
    this.reserve(terms);
    const { order, term, pairSlot, pairTf, pointEnd } = this;
    const slots = order.length;
    const slotOfTerm = new Int32Array(terms).fill(-1);
    const termOfSlot = Int32Array.from(order);
    const start = new Int32Array(slots + 1);
    const topicStart = new Int32Array(slots + 1);
    const df = new Int32Array(slots);
    for (let slot = 0; slot < slots; slot++) {
      const id = order[slot]!;
      const x = STRIDE * id;
      slotOfTerm[id] = slot;
      start[slot + 1] = start[slot]! + term[x + POSTED]!;
      topicStart[slot + 1] = topicStart[slot]! + term[x + TOPICS]!;
      df[slot] = term[x + POSTED]! + term[x + NAME_POINTS]! - term[x + OVERLAP]!;
    }
    const post = new Int32Array(2 * this.pairs);
    const postTf = new Float32Array(post.buffer);
    placePairs(start, pairSlot, pairTf, pointEnd, this.points, post, postTf);
    const topic = new Int32Array(this.namePairs);
    placeTopics(topicStart, this.nameSlot, this.nameTopic, this.namePairs, topic);
    return { slotOfTerm, termOfSlot, start, post, postTf, topicStart, topic, df, length: this.length };
  }
}

// finish's loops are functions of their own: V8 optimises a loop on the stack of the function it is in, and in one
// function the optimised code met the next loop's code without type feedback and was dropped (three times per build).

/** Moves the first `points` points' pairs (`pairSlot`, `pairTf`, point i's ending at `pointEnd[i]`) to their slots' postings. */
function placePairs(
  start: Int32Array,
  pairSlot: Int32Array,
  pairTf: Float32Array,
  pointEnd: Int32Array,
  points: number,
  post: Int32Array,
  postTf: Float32Array,
): void {
  const fill = start.slice(0, start.length - 1);
  for (let i = 0, j = 0; i < points; i++) {
    for (; j < pointEnd[i]!; j++) {
      const slot = pairSlot[j]!;
      const k = fill[slot]!;
      fill[slot] = k + 1;
      post[2 * k] = i;
      postTf[2 * k + 1] = pairTf[j]!;
    }
  }
}

/** Moves the first `pairs` (slot, topic) name pairs to their slots' topics. */
function placeTopics(topicStart: Int32Array, nameSlot: Int32Array, nameTopic: Int32Array, pairs: number, topic: Int32Array): void {
  const fill = topicStart.slice(0, topicStart.length - 1);
  for (let j = 0; j < pairs; j++) topic[fill[nameSlot[j]!]!++] = nameTopic[j]!;
}

/** A copy of `a` with room for at least `n` entries (doubling), zero-filled beyond the old end. */
export function grow<A extends Int32Array | Float32Array | Float64Array>(a: A, n: number): A {
  let size = a.length;
  while (size < n) size *= 2;
  const b = new (a.constructor as new (n: number) => A)(size);
  b.set(a);
  return b;
}
