/**
 * Question analysis: a question taken apart into the words the asker typed, the search terms they
 * stand for (own words, glossary names, typo fixes, WordNet synonyms) with their weights, what the
 * question asks for, the topics it names, and whether its subject is in the talk at all. It reads
 * the index only through `Vocabulary`; ranking is search.ts's.
 */
import { isCommonWord, isLemma, synonymsOf } from './lexicon.js';
import type { Topic } from './model.js';
import { intentsOf } from './intent.js';
import { normalizeKey, oneEditAway, surfaceTerms, type SurfaceTerm } from './text.js';

/** Weight of a word found one edit away from a misspelt one. */
const TYPO_WEIGHT = 0.8;
/** Unknown words of one question that get a typo fix (the rest are left unknown). */
const MAX_CORRECTIONS = 6;
/** Weight of the parts of a compound query word ("linux" and "next" of "linux-next") next to the compound. */
const PART_WEIGHT = 0.5;
/** Longest question considered: the rest is ignored. */
const MAX_QUERY_TERMS = 24;
/** Weight of a glossary term found through one of its other names ("solid-state disk" → SSD). */
const GLOSSARY_WEIGHT = 0.9;
/** Weight of a WordNet synonym of a question word that the talk does not use ("runs" → operated). */
const SYNONYM_WEIGHT = 0.35;
/** A synonym is searched only if the talk uses it in few topics: a generic synonym ("continue", "place") adds noise and cost, not meaning. */
const SYNONYM_MIN_SPECIFICITY = 0.5;
/** A known question word at least this specific (topic specificity × weight) is a subject the talk covers. */
const STRONG = 0.75;

/** What question analysis reads from the search index: the talk's vocabulary, glossary and topic names. */
export interface Vocabulary {
  /** Whether the term is in the index (some point or its context uses it). */
  has(term: string): boolean;
  /** How many points use the term (0 if none). */
  df(term: string): number;
  /** How specific the term is to few topics, 0–1 (0 for a term the index lacks). */
  specificity(term: string): number;
  /** The one term of a word of the talk as written (lower case), if the talk has that word. */
  termOfWord(word: string): string | undefined;
  /** The compound term spelt by these letters alone ("underrepresented" → "under-represented"). */
  joinedCompound(letters: string): string | undefined;
  /** Whether some point (with its context) uses both terms. */
  cooccur(a: string, b: string): boolean;
  /** The stems of the glossary term that a glossary name (its stems joined by spaces) stands for. */
  glossaryTerm(stems: string): readonly string[] | undefined;
  /** Most stems in a glossary name (0: no glossary). */
  readonly longestPhrase: number;
  /** The topic that a run of question words names: its normalized words, or its stems, joined by spaces. */
  topicNamed(key: string, stems: string): Topic | undefined;
  /** Most words in a topic name. */
  readonly longestKey: number;
}

/** One word of a question as typed, with its search terms. */
export interface Token {
  text: string;
  /** `text` normalized (normalizeKey). */
  key: string;
  /** Its terms with the words they come from. */
  parts: SurfaceTerm[];
  /** Its position among the question's words (stop-words included): adjacent words differ by one. */
  at: number;
  stems: string[];
  /** Some of its terms (or a glossary name it is part of) are in the talk's vocabulary, after typo and synonym expansion. */
  known: boolean;
  /** Share of the vocabulary's largest IDF that its best known term carries (0–1): how specific the match is. */
  weight: number;
}

/** A span of a question's tokens that names a topic. */
export interface TopicSpan {
  topic: Topic;
  from: number;
  to: number;
}

/** A question taken apart: weighted terms, its words, what it asks for and the topics it names. */
export interface Analysis {
  /** Search term → weight (1 for the asker's own words, less for expansions). */
  weighted: Map<string, number>;
  tokens: Token[];
  /** What the question asks for (bit mask of INTENTS). */
  intents: number;
  named: Set<Topic>;
  /** Spans of `tokens` that name a topic (for two-subject labels). */
  spans: TopicSpan[];
}

/** A word as typed: letters and digits, joined by `. _ + - / '` ("io_uring", "checkpatch.pl", "what's"). */
const TOKEN = /[\p{L}\p{N}]+(?:[._+\-/'’][\p{L}\p{N}]+)*/gu;
/** What joins the two subjects of "ext4 or XFS?", "KVM vs Xen", "ext3 versus btrfs". */
const CONNECTOR = /\s(?:or|vs\.?|versus|compared (?:to|with))\s/i;

/** Whether a word is a typo of an everyday word: the same for every talk, so kept once per process. */
const typoOfCommon = new Map<string, boolean>();

/**
 * Takes questions apart against one index's vocabulary. Keeps that vocabulary's typo fixes
 * (a question's misspellings recur).
 */
export class QuestionAnalyzer {
  private readonly corrections = new Map<string, { term: string; weight: number } | null>();

  constructor(private readonly vocab: Vocabulary) {}

  /** Takes a question apart: its words, their terms and weights (own words, glossary names, typo fixes, synonyms), its intents and the topics it names. */
  analyze(question: string): Analysis {
    const vocab = this.vocab;
    const tokens: Token[] = [];
    const words = question.slice(0, 2000).match(TOKEN) ?? [];
    for (let at = 0; at < words.length; at++) {
      const text = words[at]!;
      const parts = surfaceTerms(text);
      if (parts.length > 0) tokens.push({ text, key: normalizeKey(text), at, parts, stems: parts.map((p) => p.term), known: false, weight: 0 });
      if (tokens.length >= MAX_QUERY_TERMS) break;
    }
    const weighted = new Map<string, number>();
    const give = (term: string, weight: number, token: Token) => {
      weighted.set(term, Math.max(weighted.get(term) ?? 0, weight));
      token.known = true;
      token.weight = Math.max(token.weight, weight * vocab.specificity(term));
    };
    this.applyGlossary(tokens, give);
    let corrections = 0;
    for (const token of tokens) {
      if (token.known) continue;
      const compound = token.parts.length > 1 && token.parts[1]!.part;
      const joined = vocab.joinedCompound(token.text.toLowerCase());
      if (joined) give(joined, 1, token);
      let partsKnown = true;
      for (const { surface, term, part } of token.parts) {
        const base = part ? PART_WEIGHT : 1;
        const before = weighted.size;
        if (vocab.has(term)) give(term, base, token);
        else {
          // A dictionary word is not a typo: it gets synonyms; anything else gets a typo fix (a few per question).
          const fix = isCommonWord(surface) || corrections >= MAX_CORRECTIONS ? undefined : this.correct(surface);
          if (!isCommonWord(surface)) corrections++;
          if (fix) give(fix.term, base * fix.weight, token);
          else
            for (const syn of synonymsOf(term))
              if (vocab.has(syn) && vocab.specificity(syn) >= SYNONYM_MIN_SPECIFICITY) give(syn, base * SYNONYM_WEIGHT, token);
        }
        if (part && weighted.size === before && !vocab.has(term)) partsKnown = false;
      }
      // A compound is known when it is, or when all its parts are ("linux-next"; not "risc-v").
      if (compound && !vocab.has(token.stems[0]!) && !joined && !partsKnown) token.known = false;
    }
    const { named, spans } = this.topicsNamedIn(tokens);
    return { weighted, tokens, intents: intentsOf(question), named, spans };
  }

  /**
   * The decline rule. The question's subject is not in the talk when (a) a word that is not
   * everyday English (a name or a technical term: "io_uring", "Wayland") has no match in the
   * vocabulary after typo, glossary and synonym expansion; or (b) the question names no topic and
   * the words it has in common with the talk weigh less than the words it has not (each known word
   * counts by its IDF share, so generic words such as "kernel" or "support" count little). Returns
   * the subject as typed: the run of words around the unknown ones.
   */
  uncoveredSubject(a: Analysis): string | undefined {
    const unknown = a.tokens.filter((t) => !t.known);
    const specific = unknown.filter((t) => t.stems.length > 1 || !everyday(t.text));
    if (specific.length > 0) return subjectText(a.tokens, specific);
    if (a.named.size > 0) return undefined;
    const unrelated = this.unrelatedPair(a.tokens);
    if (unrelated) return unrelated;
    if (unknown.length === 0) return undefined;
    const knownMass = a.tokens.reduce((m, t) => m + (t.known ? t.weight : 0), 0);
    const strong = a.tokens.some((t) => t.weight >= STRONG);
    return strong && knownMass >= unknown.length ? undefined : subjectText(a.tokens, unknown);
  }

  /** Glossary names in the question ("solid-state disks"): their words are known, and the term's terms are searched. */
  private applyGlossary(tokens: Token[], give: (term: string, weight: number, token: Token) => void): void {
    const vocab = this.vocab;
    if (vocab.longestPhrase === 0) return;
    const seq: { stem: string; token: Token }[] = [];
    for (const token of tokens) for (const stem of token.stems) seq.push({ stem, token });
    for (let i = 0; i < seq.length; i++) {
      for (let n = Math.min(vocab.longestPhrase, seq.length - i); n >= 1; n--) {
        let key = seq[i]!.stem;
        for (let j = 1; j < n; j++) key += ` ${seq[i + j]!.stem}`;
        const term = vocab.glossaryTerm(key);
        if (!term) continue;
        for (let j = 0; j < n; j++) for (const t of term) if (vocab.has(t)) give(t, GLOSSARY_WEIGHT, seq[i + j]!.token);
        i += n - 1;
        break;
      }
    }
  }

  /**
   * Two adjacent question words that the talk uses, but never together in one point (or its
   * context): a compound subject of its own ("device tree"), not one the talk covers.
   */
  private unrelatedPair(tokens: readonly Token[]): string | undefined {
    for (let i = 0; i + 1 < tokens.length; i++) {
      const x = tokens[i]!;
      const y = tokens[i + 1]!;
      if (y.at !== x.at + 1 || x.stems.length !== 1 || y.stems.length !== 1) continue;
      const sx = x.stems[0]!;
      const sy = y.stems[0]!;
      if (!this.vocab.has(sx) || !this.vocab.has(sy) || sx === sy) continue;
      if (!this.vocab.cooccur(sx, sy)) return `${x.text} ${y.text}`;
    }
    return undefined;
  }

  /** Topics the question names by id, title, alias or a glossary name of one (n-grams up to the longest key), with where. */
  private topicsNamedIn(tokens: readonly Token[]): { named: Set<Topic>; spans: TopicSpan[] } {
    const named = new Set<Topic>();
    const spans: TopicSpan[] = [];
    for (let i = 0; i < tokens.length; i++) {
      // The longest n-gram from i that names a topic, its keys built word by word.
      let key = '';
      let stems = '';
      let found: { topic: Topic; n: number } | undefined;
      for (let n = 1; n <= this.vocab.longestKey && i + n <= tokens.length; n++) {
        const t = tokens[i + n - 1]!;
        key = n === 1 ? t.key : `${key} ${t.key}`;
        stems = n === 1 ? t.stems.join(' ') : `${stems} ${t.stems.join(' ')}`;
        const topic = this.vocab.topicNamed(key, stems);
        if (topic) found = { topic, n };
      }
      if (!found) continue;
      named.add(found.topic);
      spans.push({ topic: found.topic, from: i, to: i + found.n });
      i += found.n - 1;
    }
    return { named, spans };
  }

  /**
   * The vocabulary term of a misspelt word (`surface` as typed): a word of the talk one edit away
   * (letters only, at least four; of several, the most frequent term).
   */
  private correct(surface: string): { term: string; weight: number } | undefined {
    if (surface.length < 4 || surface.length > 32) return undefined;
    const cached = this.corrections.get(surface);
    if (cached !== undefined) return cached ?? undefined;
    let fix: { term: string; weight: number } | null = null;
    if (/^[a-z]+$/.test(surface)) {
      let bestDf = 0;
      for (const v of oneEditAway(surface)) {
        const t = this.vocab.termOfWord(v);
        const df = t === undefined ? 0 : this.vocab.df(t);
        if (df > bestDf) {
          bestDf = df;
          fix = { term: t!, weight: TYPO_WEIGHT };
        }
      }
    }
    if (this.corrections.size > 10_000) this.corrections.clear();
    this.corrections.set(surface, fix);
    return fix ?? undefined;
  }
}

/**
 * "ext4 or XFS?", "KVM vs Xen": the text on each side of the first connector, if there is one.
 */
export function connectedSides(question: string): [string, string] | undefined {
  const m = CONNECTOR.exec(question);
  return m ? [question.slice(0, m.index), question.slice(m.index + m[0].length)] : undefined;
}

/** The words of a span as the asker typed them. */
export function spanText(a: Analysis, span: TopicSpan): string {
  return a.tokens
    .slice(span.from, span.to)
    .map((t) => t.text)
    .join(' ');
}

/** Whether a word is everyday English, or a typo of it (a letter missing, extra or swapped: a wrong letter makes too many names look like words). */
function everyday(word: string): boolean {
  const w = normalizeKey(word);
  if (isCommonWord(w)) return true;
  if (w.length < 6 || !/^[a-z]+$/.test(w)) return false;
  let typo = typoOfCommon.get(w);
  if (typo === undefined) {
    typo = oneEditAway(w, false).some(isLemma);
    if (typoOfCommon.size > 10_000) typoOfCommon.clear();
    typoOfCommon.set(w, typo);
  }
  return typo;
}

/**
 * The subject as typed: the run of adjacent question words (at most three) around the unknown
 * words in `wanted`; of several runs, the one with the most unknown words (ties: the last).
 */
function subjectText(tokens: readonly Token[], wanted: readonly Token[]): string {
  let best: readonly Token[] = [];
  let bestUnknown = 0;
  for (let i = 0; i < tokens.length; ) {
    let j = i + 1;
    while (j < tokens.length && tokens[j]!.at === tokens[j - 1]!.at + 1) j++;
    const run = tokens.slice(i, j);
    const unknown = run.filter((t) => wanted.includes(t)).length;
    if (unknown > 0 && unknown >= bestUnknown) {
      best = trimRun(run, wanted);
      bestUnknown = unknown;
    }
    i = j;
  }
  return best.map((t) => t.text).join(' ');
}

/** At most three words of a run, starting at its first unknown word (or just before it, if it is the last). */
function trimRun(run: readonly Token[], wanted: readonly Token[]): readonly Token[] {
  if (run.length <= 3) return run;
  const first = run.findIndex((t) => wanted.includes(t));
  const from = Math.max(0, Math.min(first, run.length - 3));
  return run.slice(from, from + 3);
}
