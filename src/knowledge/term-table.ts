/** TermTable: the index build's tokeniser, numbering the terms of many texts (see search.ts). */
import { CharMap, FNV_OFFSET, FNV_PRIME, HASH_MASK, hashOf, PACK_BITS } from './char-map.js';
import { SEPARATOR, splitWord, STOP_WORDS, stemOf, words } from './text.js';

/** `c` lower-cased if it is an ASCII capital. */
function lower(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** [a-z0-9] (after lower-casing): `[\p{L}\p{N}]` for ASCII. */
function isAlnum(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
}

/** `. + - /`: what joins a compound word (`_` is a space after normalizeKey). */
function isJoin(c: number): boolean {
  return c === 46 || c === 43 || c === 45 || c === 47;
}

/**
 * Whether `c` keeps a text on the fast path: ASCII but a quote character (`" ' \``), for which
 * normalizeKey comes down to lower-casing, `_` as a space and the UK-spelling rule.
 */
function isPlain(c: number): boolean {
  return c < 128 && c !== 34 && c !== 39 && c !== 96;
}

/**
 * Whether normalizeKey's UK-to-US rule (`is(ation|e|ed|ing)\b` → `iz…`)
 * respells the run of letters and digits `s[from, to)` (which a non-word
 * character or the end follows), letters compared lower-cased.
 */
function ukSpelling(s: string, from: number, to: number): boolean {
  // Only the last letter is checked on the hot path: the four suffixes end differently.
  const last = lower(s.charCodeAt(to - 1));
  const suffix = last === 101 ? 'ise' : last === 100 ? 'ised' : last === 103 ? 'ising' : last === 110 ? 'isation' : undefined;
  if (suffix === undefined || to - from < suffix.length) return false;
  for (let i = 0, at = to - suffix.length; i < suffix.length; i++) if (lower(s.charCodeAt(at + i)) !== suffix.charCodeAt(i)) return false;
  return true;
}

/**
 * Numbered terms for indexing many texts: `ids(text)` gives the ids of exactly
 * `terms(text)`, but each distinct word is split, stop-word-checked and stemmed
 * only once. Plain ASCII text (nearly all of it) is scanned in place after
 * lower-casing, its words looked up by their characters (CharMap): no
 * normalized copy and no string per word is made. Other text goes through
 * `words()` and the same tables.
 */
export class TermTable {
  /** The term of each id. */
  readonly terms: string[] = [];
  private readonly termIds: CharMap;
  /**
   * Word → its one term id, or -1 - i for `lists[i]` when it has none (a stop-word) or several (a compound): the words
   * of texts, and apart from them the words of names (`ids(…, true)`). A large knowledge has many more distinct words
   * in its topic names than in its bullets, each used once: kept apart, the bullets' table stays small enough to stay
   * in the processor's cache while every bullet word is looked up in it.
   */
  private readonly wordRefs: CharMap;
  private readonly nameRefs: CharMap;
  private readonly lists: number[][] = [];
  /**
   * Per term id: 1 if a word of a name is that term as written. A name word with a digit and no joining character (most
   * words of generated names, and many real ones: "ext4", "x86") is its own term (never stemmed, never a stop-word),
   * so it is numbered through `termIds` alone and marked here instead of also being kept in `nameRefs`.
   */
  private writtenInName = new Uint8Array(1 << 10);

  /** `expectedWords`, `expectedNames`: guesses at the number of distinct words in texts and in names. */
  constructor(expectedWords = 0, expectedNames = 0) {
    this.termIds = new CharMap(expectedWords + expectedNames);
    this.wordRefs = new CharMap(expectedWords);
    // Names' words with a digit skip this table (see writtenInName): start it small, it grows if need be.
    this.nameRefs = new CharMap(expectedNames >> 2);
  }

  /**
   * The term ids of the last `scan`: `scanned[0 .. count)`. A buffer reused text after text (an array emptied with
   * `length = 0` gives up its storage, and refilling it allocates again, several times per text).
   */
  scanned = new Int32Array(256);
  private count = 0;
  /** Whether the last `scan` read an ASCII capital or digit (or took the general path, which does not tell). */
  capitalOrDigit = false;

  /** Appends the term ids of `text` (stop-words dropped) to `out`, in `terms(text)` order; `name`: text is a topic's name. */
  ids(text: string, out: number[], name = false): number[] {
    const n = this.scan(text, name);
    for (let i = 0; i < n; i++) out.push(this.scanned[i]!);
    return out;
  }

  /** The term ids of `text` (see `ids`) into `scanned`; returns how many. */
  scan(text: string, name = false): number {
    const refs = name ? this.nameRefs : this.wordRefs;
    this.count = 0;
    this.capitalOrDigit = false;
    // The ASCII case of `normalizeKey(text).match(WORD)`: runs of [a-z0-9] joined by single `. + - /`, lower-cased
    // as they are read. A character off the fast path sends the whole text down the general one.
    const n = text.length;
    let i = 0;
    while (i < n) {
      const c = lower(text.charCodeAt(i));
      if (!isAlnum(c)) {
        if (!isPlain(c)) {
          this.count = 0;
          this.capitalOrDigit = true;
          for (const w of words(text)) this.word(refs, w, 0, w.length, hashOf(w, 0, w.length));
          return this.count;
        }
        i++;
        continue;
      }
      const start = i;
      let respelt = false;
      let upper = false;
      let digit = false;
      let joined = false;
      // The word's hash (hashOf) and, for a short one, its characters packed (CharMap) as it is scanned.
      let h = FNV_OFFSET;
      let a = 0;
      let b = 0;
      for (;;) {
        const runStart = i;
        for (; i < n; i++) {
          let ch = text.charCodeAt(i);
          if (ch >= 65 && ch <= 90) {
            ch += 32;
            upper = true;
          } else if (ch <= 57 && ch >= 48) digit = true;
          else if (!isAlnum(ch)) break;
          h = Math.imul(h ^ ch, FNV_PRIME);
          const at = i - start;
          if (at < 4) a |= ch << (PACK_BITS * at);
          else if (at < 7) b |= ch << (PACK_BITS * (at - 4));
        }
        if (ukSpelling(text, runStart, i)) respelt = true;
        if (i + 1 < n && isJoin(text.charCodeAt(i)) && isAlnum(lower(text.charCodeAt(i + 1)))) {
          const ch = text.charCodeAt(i);
          joined = true;
          h = Math.imul(h ^ ch, FNV_PRIME);
          const at = i - start;
          if (at < 4) a |= ch << (PACK_BITS * at);
          else if (at < 7) b |= ch << (PACK_BITS * (at - 4));
          i++;
        } else break;
      }
      const len = i - start;
      h &= HASH_MASK;
      if (upper || digit) this.capitalOrDigit = true;
      if (respelt) {
        // Rare ("organisation", "otherwise"): build the word as normalizeKey spells it.
        const w = words(text.slice(start, i))[0]!;
        this.word(refs, w, 0, w.length, hashOf(w, 0, w.length));
        continue;
      }
      if (upper) {
        // Rarer: a capital in a long word. Look it up lower-cased.
        const w = text.slice(start, i).toLowerCase();
        this.word(refs, w, 0, len, h);
        continue;
      }
      if (name && digit && !joined) {
        this.emit(this.nameTerm(text, start, i, h, len <= 7 ? b | (len << (3 * PACK_BITS)) : -1, a));
        continue;
      }
      const ref = len <= 7 ? refs.getPacked(h, a, b | (len << (3 * PACK_BITS))) : refs.get(text, start, i, h);
      this.push(ref ?? this.newWord(refs, text, start, i, h));
    }
    return this.count;
  }

  /** The id of a term (`h`: its hashOf), added if new. */
  private termId(t: string, h: number): number {
    let id = this.termIds.get(t, 0, t.length, h);
    if (id === undefined) this.termIds.add(t, 0, t.length, h, (id = this.terms.push(t) - 1));
    return id;
  }

  /**
   * The id of the name word `s[from, to)` (lower-case, with a digit, not a compound: its own term), added if new;
   * `hash`: its hashOf; `a`, `b`: its packed characters if it is short (`b` is -1 if not).
   */
  private nameTerm(s: string, from: number, to: number, hash: number, b: number, a: number): number {
    let id = b >= 0 ? this.termIds.getPacked(hash, a, b) : this.termIds.get(s, from, to, hash);
    if (id === undefined) {
      const t = s.slice(from, to);
      id = this.terms.push(t) - 1;
      this.termIds.add(t, 0, t.length, hash, id);
    }
    if (id >= this.writtenInName.length) {
      const grown = new Uint8Array(Math.max(2 * this.writtenInName.length, id + 1));
      grown.set(this.writtenInName);
      this.writtenInName = grown;
    }
    this.writtenInName[id] = 1;
    return id;
  }

  /** The id of a term, if the table has it. */
  idOf(term: string): number | undefined {
    return this.termIds.get(term, 0, term.length, hashOf(term, 0, term.length));
  }

  /** The one term of a word of the indexed texts or names (lower-case, as written), if it was seen and is not a stop-word or a compound. */
  termOf(word: string): string | undefined {
    const hash = hashOf(word, 0, word.length);
    const ref = this.wordRefs.get(word, 0, word.length, hash) ?? this.nameRefs.get(word, 0, word.length, hash);
    if (ref !== undefined) return ref >= 0 ? this.terms[ref] : undefined;
    const id = this.termIds.get(word, 0, word.length, hash);
    return id !== undefined && this.writtenInName[id] === 1 ? word : undefined;
  }

  /** Appends the term ids of the word `s[from, to)` (`hash`: its hashOf), tokenising it if `refs` does not have it yet. */
  private word(refs: CharMap, s: string, from: number, to: number, hash: number): void {
    this.push(refs.get(s, from, to, hash) ?? this.newWord(refs, s, from, to, hash));
  }

  /** Tokenises the word `s[from, to)` (`hash`: its hashOf), which `refs` does not have yet, into it; returns its reference. */
  private newWord(refs: CharMap, s: string, from: number, to: number, hash: number): number {
    // Each distinct word comes here once (per table), so its parts are stemmed without the shared stem cache
    // (which would otherwise also keep every one-off word of a large corpus).
    const word = s.slice(from, to);
    let ref: number;
    if (!SEPARATOR.test(word) && !STOP_WORDS.has(word)) {
      // A plain word (most): one term.
      const stem = stemOf(word);
      ref = this.termId(stem, stem === word ? hash : hashOf(stem, 0, stem.length));
    } else {
      const ids = splitWord(word, false, [], stemOf).map((t) => this.termId(t, hashOf(t, 0, t.length)));
      ref = ids.length === 1 ? ids[0]! : -1 - (this.lists.push(ids) - 1);
    }
    refs.add(s, from, to, hash, ref);
    return ref;
  }

  /** Appends the term ids a word's reference stands for to `scanned`. */
  private push(ref: number): void {
    if (ref >= 0) this.emit(ref);
    else for (const id of this.lists[-1 - ref]!) this.emit(id);
  }

  private emit(id: number): void {
    if (this.count === this.scanned.length) {
      const grown = new Int32Array(2 * this.count);
      grown.set(this.scanned);
      this.scanned = grown;
    }
    this.scanned[this.count++] = id;
  }
}
