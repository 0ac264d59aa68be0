/**
 * What a question asks for (a person, a number, a time, a reason, whether something is done) and
 * which points of the talk carry it. Both sides are classes of wording, never single questions.
 */

/** Intent bits: a question's intents and a point's features share them. */
export const INTENTS = { who: 1, count: 2, when: 4, why: 8, done: 16 } as const;

const ASKS: [number, RegExp][] = [
  [INTENTS.who, /\b(who|whom|whose|which (distros?|distributions?|people|developers|devs|companies|vendors))\b/],
  [INTENTS.count, /\b(how (many|much)|what (share|percentage|percent|fraction|proportion|portion|part)|percentage|fraction|proportion)\b/],
  [INTENTS.when, /\b(when|eta|how (long|soon)|what year|timeline|timeframe|any time soon)\b/],
  [INTENTS.why, /\b(why|how come|what for|reason|the point|purpose|who needs|any use|useful|matter)\b/],
  [
    INTENTS.done,
    /\b(done|yet|finished|complete|completed|merged|upstream|mainline|ready|blocked|blocking|holding up|land|landed|stable|work(ed)? out|succeed(ed)?)\b/,
  ],
];

/** The intents of a question (bit mask of INTENTS). */
export function intentsOf(question: string): number {
  const q = question.toLowerCase();
  let mask = 0;
  for (const [bit, re] of ASKS) if (re.test(q)) mask |= bit;
  return mask;
}

const CARRIES: [number, RegExp][] = [
  // A person's name (two capitalised words), or an organisation that acts.
  [INTENTS.who, /\b[A-Z][a-z]+ [A-Z][a-z]+\b|\b(vendors|distros|distributors|Ubuntu)\b/],
  // A number that is not a version or a year.
  [INTENTS.count, /\d+%|(?<![.\d])\b(?!(19|20)\d\d\b)\d{2,}\b(?![.\d])/],
  [INTENTS.when, /\b(estimate|within a year|soon|recently|long time|2\.6\.\d+|completed|should be in|expect)\b/i],
  [INTENTS.why, /^(To|Because) |\b(because|reason|so we|so that|due to|important|makes)\b/i],
  [
    INTENTS.done,
    /\b(merged|merging|in place|maintenance mode|in progress|ongoing|succeeded|blockage|not ready|completed|continues to be|going (well|OK)|worked out)\b/i,
  ],
];

/** A slide whose title asks "why" gives reasons in every point. */
const WHY_SLIDE = /^why\b/i;

/**
 * Any of CARRIES' patterns, in two passes over a text instead of five: the case-sensitive ones and the others.
 * Few points match either, and only those are then tested pattern by pattern.
 */
const ANY_CASED = new RegExp(
  CARRIES.filter(([, re]) => !re.ignoreCase)
    .map(([, re]) => `(?:${re.source})`)
    .join('|'),
);
const ANY_UNCASED = new RegExp(
  CARRIES.filter(([, re]) => re.ignoreCase)
    .map(([, re]) => `(?:${re.source})`)
    .join('|'),
  'i',
);

/**
 * Whether `text` can match a case-sensitive pattern of CARRIES: only if it has a capital or a digit (`capitalOrDigit`,
 * which the build's tokeniser notes as it reads the text), or one of their lower-case words.
 */
export function mayMatchCased(text: string, capitalOrDigit: boolean): boolean {
  return capitalOrDigit || text.includes('vendors') || text.includes('distr');
}

/**
 * The intents a point can answer (bit mask of INTENTS), from its text and its slide's title; `cased: false` when
 * `mayMatchCased` has ruled out the case-sensitive patterns.
 */
export function pointFeatures(text: string, slideTitle = '', cased = true): number {
  let mask = WHY_SLIDE.test(slideTitle) ? INTENTS.why : 0;
  if (!(cased && ANY_CASED.test(text)) && !ANY_UNCASED.test(text)) return mask;
  for (let i = 0; i < CARRIES.length; i++) {
    const [bit, re] = CARRIES[i]!;
    if ((cased || re.ignoreCase) && re.test(text)) mask |= bit;
  }
  return mask;
}
