import { stemmer } from 'stemmer';
import { eng } from 'stopword';
import { normalizeKey } from './load.js';

/**
 * Words that carry no topic in a question about the talk ("what does the talk
 * say about …"): English stop-words plus the phrasing people wrap questions in.
 */
const STOP_WORDS = new Set([
  ...eng,
  'talk', 'talks', 'say', 'says', 'said', 'saying', 'speaker', 'slide', 'slides', 'tell', 'told', 'me', 'us',
  'happening', 'happen', 'happens', 'going', 'status', 'state', 'think', 'thinks', 'thought', 'opinion',
  'news', 'anything', 'something', 'whats', 'hows', 'dont', 'doesnt', 'isnt', 'please', 'know', 'explain',
  'mention', 'mentioned', 'mentions', 'view', 'views', 'regarding', 'concerning', 'current', 'currently',
  'bot', 'hey', 'hi', 'hello', 'thanks', 'ok', 'okay', 'lot', 'lots', 'much', 'many', 'really', 'kind',
  'which', 'who', 'whom', 'whose', 'why', 'how', 'what', 'when', 'where', 'does', 'did', 'do', 'is', 'are',
  'was', 'were', 'will', 'would', 'should', 'could', 'can', 'the', 'a', 'an', 'of', 'on', 'in', 'about',
]);

/** Stems of words seen so far: the same few thousand words recur in every point and question. */
const stems = new Map<string, string>();
function stem(word: string): string {
  let s = stems.get(word);
  if (s === undefined) {
    s = word.length > 3 && /^\p{L}+$/u.test(word) ? stemmer(word) : word;
    if (stems.size < 500_000) stems.set(word, s);
  }
  return s;
}

const WORD = /[\p{L}\p{N}]+(?:[.+\-_/][\p{L}\p{N}]+)*/gu;

/**
 * Splits text into search terms: normalized, stop-words dropped, stemmed.
 * Compound words ("linux-next", "2.6.27") yield the compound and its parts.
 */
export function terms(text: string, keepStopWords = false): string[] {
  const out: string[] = [];
  for (const m of normalizeKey(text).matchAll(WORD)) {
    const word = m[0];
    const parts = word.split(/[.+\-_/]/);
    if (parts.length > 1) out.push(word);
    for (const p of parts) {
      if (p.length === 0) continue;
      if (!keepStopWords && STOP_WORDS.has(p)) continue;
      out.push(stem(p));
    }
  }
  return out;
}
