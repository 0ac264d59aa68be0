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
export const STOP_WORDS = new Set([
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
export const SEPARATOR = /[.+\-_/]/;

/** The words of a text, normalized, before stop-words and stemming: what `terms()` splits. */
export function words(text: string): string[] {
  // `match` with a global regex returns plain strings: no match objects, no iterator.
  return normalizeKey(text).match(WORD) ?? [];
}

/** Appends the terms of one word from `words()` to `out`: a compound yields itself and its parts. */
export function splitWord(word: string, keepStopWords: boolean, out: string[], stemFn: (w: string) => string): string[] {
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
