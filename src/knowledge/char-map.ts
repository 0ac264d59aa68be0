/** CharMap: strings (or slices of strings) to ints without a string per look-up; the term table's storage. */

export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

/**
 * A hash keeps its low 30 bits: V8 keeps such a number as a small integer wherever it goes (a call, a property), where
 * a full 32-bit one would be boxed as a heap number on each word looked up.
 */
export const HASH_MASK = 0x3fffffff;

/** FNV-1a over `s[from, to)`, its low 30 bits. */
export function hashOf(s: string, from: number, to: number): number {
  let h = FNV_OFFSET;
  for (let i = from; i < to; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h & HASH_MASK;
}

/** Bits per character in a slot's packed characters (see `CharMap.slots`): ASCII only, so the ints stay small. */
export const PACK_BITS = 7;

/**
 * Strings (or slices of strings) to ints, for the build's million look-ups:
 * open addressing on a hash of the characters, so a look-up makes no string
 * and follows no pointer, and the table holds no object per entry. A slot
 * holds a short string's characters itself (up to 7 of 8 bits each): most
 * look-ups read one slot and nothing else, as a random read beyond a few MB
 * costs as much as the rest of a look-up on this class of machine. Longer
 * strings keep their characters in one flat pool.
 */
export class CharMap {
  /**
   * Four ints per slot: the hash with its lowest bit set (0: empty slot), the value, and the characters: a short
   * string's packed, PACK_BITS to a character (characters 0–3, then 4–6 and its length from bit 21), a long one's
   * start in `chars` and its length as −1 − length.
   */
  private slots: Int32Array;
  private size = 0;
  private chars: Uint16Array;
  private charsUsed = 0;

  /** `expected`: about how many entries will come (sizes the table up front instead of regrowing it). */
  constructor(expected: number) {
    let slots = 1 << 10;
    while (slots * MAX_LOAD < expected) slots *= 2;
    this.slots = new Int32Array(4 * slots);
    this.chars = new Uint16Array(1 << 12);
  }

  /** The value of `s[from, to)`, or undefined. */
  get(s: string, from: number, to: number, hash: number): number | undefined {
    const slots = this.slots;
    const mask = slots.length - 1;
    const h = hash | 1;
    for (let at = home(h, mask), x = slots[at]!; x !== 0; at = (at + 4) & mask, x = slots[at]!) {
      if (x === h && this.holds(at, s, from, to)) return slots[at + 1];
    }
    return undefined;
  }

  /** The value of the short string whose characters are `a` and `b` (as a slot keeps them: see `slots`), or undefined. */
  getPacked(hash: number, a: number, b: number): number | undefined {
    const slots = this.slots;
    const mask = slots.length - 1;
    const h = hash | 1;
    for (let at = home(h, mask), x = slots[at]!; x !== 0; at = (at + 4) & mask, x = slots[at]!) {
      if (x === h && slots[at + 2] === a && slots[at + 3] === b) return slots[at + 1];
    }
    return undefined;
  }

  /** Adds `s[from, to)`, which is not in the map yet. */
  add(s: string, from: number, to: number, hash: number, value: number): void {
    if (++this.size > (this.slots.length >> 2) * MAX_LOAD) this.grow();
    const slots = this.slots;
    const mask = slots.length - 1;
    let at = home(hash | 1, mask);
    while (slots[at] !== 0) at = (at + 4) & mask;
    slots[at] = hash | 1;
    slots[at + 1] = value;
    const len = to - from;
    if (packs(s, from, to)) {
      let a = 0;
      let b = len << (3 * PACK_BITS);
      for (let i = 0; i < len; i++) {
        const ch = s.charCodeAt(from + i);
        if (i < 4) a |= ch << (PACK_BITS * i);
        else b |= ch << (PACK_BITS * (i - 4));
      }
      slots[at + 2] = a;
      slots[at + 3] = b;
      return;
    }
    if (this.charsUsed + len > this.chars.length) {
      let size = this.chars.length;
      while (size < this.charsUsed + len) size *= 2;
      const chars = new Uint16Array(size);
      chars.set(this.chars);
      this.chars = chars;
    }
    for (let i = 0; i < len; i++) this.chars[this.charsUsed + i] = s.charCodeAt(from + i);
    slots[at + 2] = this.charsUsed;
    slots[at + 3] = -1 - len;
    this.charsUsed += len;
  }

  /** Whether slot `at` holds `s[from, to)`. */
  private holds(at: number, s: string, from: number, to: number): boolean {
    const slots = this.slots;
    const b = slots[at + 3]!;
    const len = to - from;
    if (b >= 0) {
      if (b >>> (3 * PACK_BITS) !== len) return false;
      let a = 0;
      let c = 0;
      for (let i = 0; i < len; i++) {
        const ch = s.charCodeAt(from + i);
        if (ch > 127) return false;
        if (i < 4) a |= ch << (PACK_BITS * i);
        else c |= ch << (PACK_BITS * (i - 4));
      }
      return a === slots[at + 2] && (c | (len << (3 * PACK_BITS))) === b;
    }
    if (-1 - b !== len) return false;
    const start = slots[at + 2]!;
    for (let i = 0; i < len; i++) if (s.charCodeAt(from + i) !== this.chars[start + i]) return false;
    return true;
  }

  /** Doubles the slots, each entry moved to its place in the new ones. */
  private grow(): void {
    const old = this.slots;
    const slots = (this.slots = new Int32Array(old.length * 2));
    const mask = slots.length - 1;
    for (let j = 0; j < old.length; j += 4) {
      if (old[j] === 0) continue;
      let at = home(old[j]!, mask);
      while (slots[at] !== 0) at = (at + 4) & mask;
      for (let k = 0; k < 4; k++) slots[at + k] = old[j + k]!;
    }
  }
}

/** The first slot to probe for a hash (`h`: with its lowest bit set, as slots keep it, so growing can place it again). */
function home(h: number, mask: number): number {
  return ((h >>> 1) << 2) & mask;
}

/**
 * Whether `s[from, to)` is short enough to be kept in its slot (at most 7 characters, all ASCII): characters 0–3 in
 * the slot's third int, 4–6 and the length in its fourth.
 */
function packs(s: string, from: number, to: number): boolean {
  if (to - from > 7) return false;
  for (let i = from; i < to; i++) if (s.charCodeAt(i) > 127) return false;
  return true;
}

/** Highest share of CharMap slots in use (linear probing stays short below it). */
const MAX_LOAD = 0.7;
