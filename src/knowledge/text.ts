import { stemmer } from 'stemmer';
import { eng } from 'stopword';

/**
 * Printable ASCII without quote characters or `_`, in runs joined by single spaces: for such text
 * (nearly every key) normalizeKey comes down to lower-casing and the UK-spelling rule.
 */
const PLAIN_KEY = /^[\x21\x23-\x26\x28-\x5e\x61-\x7e]+(?: [\x21\x23-\x26\x28-\x5e\x61-\x7e]+)*$/;

/** Lower-cases, folds Unicode and spacing, and maps UK spellings to US ones, for matching keys. */
export function normalizeKey(s: string): string {
  if (PLAIN_KEY.test(s)) {
    const lower = s.toLowerCase();
    return lower.includes('is') ? lower.replace(/is(ation|e|ed|ing)\b/g, 'iz$1') : lower;
  }
  // eslint-disable-next-line no-control-regex
  return (/^[\x00-\x7f]*$/.test(s) ? s : s.normalize('NFKC'))
    .toLowerCase()
    .replace(/[“”"'’`]/g, '')
    .replace(/[\s_]+/g, ' ')
    .replace(/is(ation|e|ed|ing)\b/g, 'iz$1')
    .trim();
}

/**
 * Words that carry no topic in a question about the talk ("what does the talk
 * say about …"): English stop-words plus the phrasing people wrap questions in.
 */
// biome-ignore format: a word list, several words to a line
const STOP_WORDS = new Set([
  ...eng,
  'talk', 'talks', 'say', 'says', 'said', 'saying', 'speaker', 'slide', 'slides', 'tell', 'told', 'me', 'us',
  'happening', 'happen', 'happens', 'going', 'status', 'state', 'think', 'thinks', 'thought', 'opinion',
  'news', 'anything', 'something', 'whats', 'hows', 'dont', 'doesnt', 'isnt', 'please', 'know', 'explain',
  'mention', 'mentioned', 'mentions', 'cover', 'covers', 'covered', 'view', 'views', 'regarding', 'concerning', 'current', 'currently',
  'bot', 'hey', 'hi', 'hello', 'thanks', 'ok', 'okay', 'lot', 'lots', 'much', 'many', 'really', 'kind',
  'which', 'who', 'whom', 'whose', 'why', 'how', 'what', 'when', 'where', 'does', 'did', 'do', 'is', 'are',
  'was', 'were', 'will', 'would', 'should', 'could', 'can', 'the', 'a', 'an', 'of', 'on', 'in', 'about',
  'whos', 'wheres', 'thats', 'theres', 'its', 'im', 'ive', 'youre', 'weve', 'cant', 'wont', 'arent', 'wasnt', 'hasnt',
  'anyone', 'anybody', 'someone', 'somebody', 'everyone', 'everybody', 'nobody', 'whatever', 'whoever',
  'vs', 'versus', 'anyway', 'stuff', 'actually', 'btw', 'pls', 'plz', 'thx', 'yeah', 'guys', 'folks',
]);

/** The stem of one word: only words of letters longer than three are stemmed. */
export function stemOf(word: string): string {
  return word.length > 3 && lettersOnly(word) ? stemmer(word) : word;
}

/** Whether a word is letters only (`/^\p{L}+$/u`; the regex only for non-ASCII words). */
function lettersOnly(word: string): boolean {
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i) | 32;
    if (c < 97 || c > 122) return word.charCodeAt(i) > 127 && /^\p{L}+$/u.test(word);
  }
  return true;
}

/** Stems of words seen so far: the same few thousand words recur in every point and question. */
const stems = new Map<string, string>();
function stem(word: string): string {
  let s = stems.get(word);
  if (s === undefined) {
    s = stemOf(word);
    if (stems.size < 500_000) stems.set(word, s);
  }
  return s;
}

const WORD = /[\p{L}\p{N}]+(?:[.+\-_/][\p{L}\p{N}]+)*/gu;
const SEPARATOR = /[.+\-_/]/;

/** The words of a text, normalized, before stop-words and stemming: what `terms()` splits. */
function words(text: string): string[] {
  // `match` with a global regex returns plain strings: no match objects, no iterator.
  return normalizeKey(text).match(WORD) ?? [];
}

/** Appends the terms of one word from `words()` to `out`: a compound yields itself and its parts. */
function splitWord(word: string, keepStopWords: boolean, out: string[], stemFn: (w: string) => string): string[] {
  if (!SEPARATOR.test(word)) {
    // A plain word (the common case): no split, no intermediate array.
    if (keepStopWords || !STOP_WORDS.has(word)) out.push(stemFn(word));
    return out;
  }
  out.push(word);
  for (const p of word.split(SEPARATOR)) {
    if (p.length === 0) continue;
    if (!keepStopWords && STOP_WORDS.has(p)) continue;
    out.push(stemFn(p));
  }
  return out;
}

/** One search term of a text with the word it comes from (as normalized, before stemming); `part`: a part of a compound. */
export interface SurfaceTerm {
  surface: string;
  term: string;
  part: boolean;
}

/** `terms(text)` with the word each term comes from. */
export function surfaceTerms(text: string): SurfaceTerm[] {
  const out: SurfaceTerm[] = [];
  for (const word of words(text)) {
    if (!SEPARATOR.test(word)) {
      if (!STOP_WORDS.has(word)) out.push({ surface: word, term: stem(word), part: false });
      continue;
    }
    out.push({ surface: word, term: word, part: false });
    for (const p of word.split(SEPARATOR)) if (p.length > 0 && !STOP_WORDS.has(p)) out.push({ surface: p, term: stem(p), part: true });
  }
  return out;
}

/**
 * Splits text into search terms: normalized, stop-words dropped, stemmed.
 * Compound words ("linux-next", "2.6.27") yield the compound and its parts.
 */
export function terms(text: string, keepStopWords = false): string[] {
  const out: string[] = [];
  for (const word of words(text)) splitWord(word, keepStopWords, out, stem);
  return out;
}

/**
 * ASCII without quote characters: text `TermTable` scans in place, as for it
 * normalizeKey comes down to lower-casing, `_` as a space and the UK-spelling rule.
 */
const PLAIN_ASCII = /^[\x00-\x21\x23-\x26\x28-\x5f\x61-\x7f]*$/;

/** [a-z0-9] after lower-casing: `[\p{L}\p{N}]` for ASCII. */
function isAlnum(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
}

/** `. + - /`: what joins a compound word (`_` is a space after normalizeKey). */
function isJoin(c: number): boolean {
  return c === 46 || c === 43 || c === 45 || c === 47;
}

/**
 * Whether normalizeKey's UK-to-US rule (`is(ation|e|ed|ing)\b` → `iz…`)
 * respells the run of letters and digits `s[from, to)` (which a non-word
 * character or the end follows).
 */
function ukSpelling(s: string, from: number, to: number): boolean {
  // Only the last letter is checked on the hot path: the four suffixes end differently.
  const last = s.charCodeAt(to - 1);
  const suffix = last === 101 ? 'ise' : last === 100 ? 'ised' : last === 103 ? 'ising' : last === 110 ? 'isation' : undefined;
  return suffix !== undefined && to - from >= suffix.length && s.startsWith(suffix, to - suffix.length);
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over `s[from, to)`. */
function hashOf(s: string, from: number, to: number): number {
  let h = FNV_OFFSET;
  for (let i = from; i < to; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h;
}

/**
 * Strings (or slices of strings) to ints, for the build's million look-ups:
 * open addressing on a hash of the characters, so a look-up makes no string
 * and follows no pointer, and the table holds no object per entry. A slot
 * holds a short string's characters itself (up to 7 of 8 bits each): most
 * look-ups read one slot and nothing else, as a random read beyond a few MB
 * costs as much as the rest of a look-up on this class of machine. Longer
 * strings keep their characters in one flat pool.
 */
class CharMap {
  /**
   * Four ints per slot: the hash with its lowest bit set (0: empty slot), the value, and the characters: a short
   * string's packed (characters 0–3, then 4–6 and its length in the top byte), a long one's start in `chars` and
   * its length as −1 − length.
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
    const short = packed(s, from, to);
    if (short !== undefined) {
      slots[at + 2] = short[0];
      slots[at + 3] = short[1];
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
      if (b >>> 24 !== len) return false;
      let a = 0;
      let c = 0;
      for (let i = 0; i < len; i++) {
        const ch = s.charCodeAt(from + i);
        if (ch > 255) return false;
        if (i < 4) a |= ch << (8 * i);
        else c |= ch << (8 * (i - 4));
      }
      return a === slots[at + 2] && (c | (len << 24)) === b;
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
 * `s[from, to)` packed into two ints when it is short (at most 7 characters, each below 256): characters 0–3 in
 * the first, 4–6 and the length (top byte) in the second; otherwise undefined.
 */
function packed(s: string, from: number, to: number): [number, number] | undefined {
  const len = to - from;
  if (len > 7) return undefined;
  let a = 0;
  let b = len << 24;
  for (let i = 0; i < len; i++) {
    const ch = s.charCodeAt(from + i);
    if (ch > 255) return undefined;
    if (i < 4) a |= ch << (8 * i);
    else b |= ch << (8 * (i - 4));
  }
  return [a, b];
}

/** Highest share of CharMap slots in use (linear probing stays short below it). */
const MAX_LOAD = 0.7;

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

  /** `expectedWords`, `expectedNames`: guesses at the number of distinct words in texts and in names. */
  constructor(expectedWords = 0, expectedNames = 0) {
    this.termIds = new CharMap(expectedWords + expectedNames);
    this.wordRefs = new CharMap(expectedWords);
    this.nameRefs = new CharMap(expectedNames);
  }

  /** Appends the term ids of `text` (stop-words dropped) to `out`, in `terms(text)` order; `name`: text is a topic's name. */
  ids(text: string, out: number[], name = false): number[] {
    const refs = name ? this.nameRefs : this.wordRefs;
    if (!PLAIN_ASCII.test(text)) {
      for (const w of words(text)) this.word(refs, w, 0, w.length, out);
      return out;
    }
    // The ASCII case of `normalizeKey(text).match(WORD)`: runs of [a-z0-9] joined by single `. + - /`.
    const s = text.toLowerCase();
    const n = s.length;
    let i = 0;
    while (i < n) {
      if (!isAlnum(s.charCodeAt(i))) {
        i++;
        continue;
      }
      const start = i;
      let respelt = false;
      // The word's hash (hashOf) is taken as it is scanned.
      let h = FNV_OFFSET;
      for (;;) {
        const runStart = i;
        for (let c = s.charCodeAt(i); i < n && isAlnum(c); c = s.charCodeAt(++i)) h = Math.imul(h ^ c, FNV_PRIME);
        if (ukSpelling(s, runStart, i)) respelt = true;
        if (i + 1 < n && isJoin(s.charCodeAt(i)) && isAlnum(s.charCodeAt(i + 1))) h = Math.imul(h ^ s.charCodeAt(i++), FNV_PRIME);
        else break;
      }
      if (respelt) {
        // Rare ("organisation", "otherwise"): build the word as normalizeKey spells it.
        const w = words(s.slice(start, i))[0]!;
        this.word(refs, w, 0, w.length, out);
      } else {
        this.word(refs, s, start, i, out, h);
      }
    }
    return out;
  }

  /** The id of a term, added if new. */
  private termId(t: string): number {
    const h = hashOf(t, 0, t.length);
    let id = this.termIds.get(t, 0, t.length, h);
    if (id === undefined) this.termIds.add(t, 0, t.length, h, (id = this.terms.push(t) - 1));
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
    return ref !== undefined && ref >= 0 ? this.terms[ref] : undefined;
  }

  /** Appends the term ids of the word `s[from, to)` (`hash`: its hashOf), tokenising it if `refs` does not have it yet. */
  private word(refs: CharMap, s: string, from: number, to: number, out: number[], hash = hashOf(s, from, to)): void {
    let ref = refs.get(s, from, to, hash);
    if (ref === undefined) {
      // Each distinct word comes here once (per table), so its parts are stemmed without the shared stem cache
      // (which would otherwise also keep every one-off word of a large corpus).
      const word = s.slice(from, to);
      if (!SEPARATOR.test(word) && !STOP_WORDS.has(word)) {
        // A plain word (most): one term.
        ref = this.termId(stemOf(word));
      } else {
        const ids = splitWord(word, false, [], stemOf).map((t) => this.termId(t));
        ref = ids.length === 1 ? ids[0]! : -1 - (this.lists.push(ids) - 1);
      }
      refs.add(s, from, to, hash, ref);
    }
    if (ref >= 0) out.push(ref);
    else for (const id of this.lists[-1 - ref]!) out.push(id);
  }
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/**
 * Every string one edit inside `word` away (a deletion, a swap of neighbours, a substitution (unless
 * `substitute` is false) or an insertion of a letter, keeping the first and last letters), without repeats. The ends are kept
 * because names that differ from a word at an end are usually other names ("systemd", "kpatch").
 */
export function oneEditAway(word: string, substitute = true): string[] {
  const out = new Set<string>();
  const last = word.length - 1;
  for (let i = 1; i < last; i++) {
    out.add(word.slice(0, i) + word.slice(i + 1));
    if (i + 1 < last) out.add(word.slice(0, i) + word[i + 1]! + word[i]! + word.slice(i + 2));
    if (substitute) for (const c of LETTERS) out.add(word.slice(0, i) + c + word.slice(i + 1));
  }
  for (let i = 1; i <= last; i++) for (const c of LETTERS) out.add(word.slice(0, i) + c + word.slice(i));
  out.delete(word);
  return [...out];
}
