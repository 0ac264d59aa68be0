import type { Verdict } from './schema.js';

export type { Verdict };

/** One bullet or sub-bullet of the talk, with the page it stands on. */
export interface Point {
  /** Stable within a load: `<topicId>#<n>`. */
  readonly id: string;
  readonly topicId: string;
  readonly text: string;
  readonly page: number;
  readonly slideTitle: string;
  /** For a sub-bullet: the bullet it hangs under. */
  readonly parent?: string;
}

export interface Topic {
  readonly id: string;
  readonly title: string;
  readonly aliases: readonly string[];
  /** The id, title and aliases normalized (normalizeKey), in that order: what lookups match. */
  readonly keys: readonly string[];
  readonly summary: string;
  readonly verdict: Verdict;
  readonly verdictQuote: string | null;
  readonly pages: readonly number[];
  /** Every bullet and sub-bullet, in talk order. */
  readonly points: readonly Point[];
  /** Hash of the topic's content (its entry in the knowledge file): digests use it to mark what changed. */
  readonly hash: string;
}

export interface Talk {
  readonly id: string;
  readonly file: string;
  readonly title: string;
  readonly titleNote?: string;
  readonly speaker: string | null;
  readonly speakerNote?: string;
  readonly era?: string;
  readonly pages: number;
  readonly source: string;
  readonly topics: readonly Topic[];
  readonly pointCount: number;
}

/** A glossary entry of a talk: a term the talk uses and the other names people give it. */
export interface GlossaryEntry {
  readonly term: string;
  readonly also: readonly string[];
  readonly talkId: string;
  /** The topics whose points, slide titles or names contain the term, in talk order. */
  readonly topicIds: readonly string[];
}

/** Everything the bot knows, immutable once loaded; reload swaps the whole object. */
export interface Knowledge {
  readonly talks: readonly Talk[];
  /** Every topic of every talk, in talk order. */
  readonly topics: readonly Topic[];
  readonly topicById: ReadonlyMap<string, Topic>;
  /** Every topic's keys (normalized id, title and aliases; each names one topic). */
  readonly topicByKey: ReadonlyMap<string, Topic>;
  readonly points: readonly Point[];
  /** Every talk's glossary. */
  readonly glossary: readonly GlossaryEntry[];
  /** Short hash of all the files: changes whenever any file changes. */
  readonly version: string;
  readonly loadedAt: Date;
  readonly loadMs: number;
}
