import type { Verdict } from '../knowledge/model.js';

/** A bullet quoted from the talk, with where it stands. */
export interface Citation {
  text: string;
  page: number;
  topicId: string;
  topicTitle: string;
  /** For a sub-bullet: the bullet it hangs under. */
  parent?: string;
  /** In an answer to a two-subject question: the subject this point answers ("ext4"). */
  label?: string;
}

/** One line of a status board or topic list. */
export interface BoardRow {
  topicId: string;
  title: string;
  verdict: Verdict;
  summary: string;
}

export type ReplyKind = 'status' | 'board' | 'answer' | 'topics' | 'info' | 'no-match' | 'usage' | 'denied' | 'rate-limited' | 'error';

/**
 * What a command answers, free of any platform: adapters render it (plain
 * text, Discord embeds, Matrix HTML) and apply their own limits.
 */
export interface Reply {
  kind: ReplyKind;
  title?: string;
  verdict?: Verdict;
  /** The quote a verdict rests on. */
  verdictQuote?: { text: string; page: number };
  summary?: string;
  points?: Citation[];
  rows?: BoardRow[];
  /** Free lines (help, about, digest lists). */
  lines?: string[];
  /** "Did you mean" candidates, as command lines the user can type. */
  suggestions?: string[];
  footer?: string;
  /** Only the asker should see it (Discord: ephemeral). */
  private?: boolean;
  /**
   * Where to read on when a renderer has to cut the reply, e.g. "status filesystems"; `{next}` stands for
   * the number of the first point the renderer could not show ("status filesystems from:{next}").
   */
  more?: string;
  /** The number (1-based) of the first point in `points` among all of the topic's points (default 1). */
  firstPoint?: number;
}

/** The pointer to the rest of a reply cut after `shown` of its points. */
export function moreOf(reply: Reply, shown: number, fallback = 'help'): string {
  return (reply.more ?? fallback).replace('{next}', String((reply.firstPoint ?? 1) + shown));
}

export const VERDICT_LABEL: Record<Verdict, string> = {
  good: 'good',
  mixed: 'mixed',
  concern: 'concern',
  unrated: 'not rated',
};

/** The one builder of problem replies: errors, usage, refusals and "did you mean". All are private. */
export const replies = {
  error: (text: string): Reply => ({ kind: 'error', summary: text, private: true }),
  /** A request that cannot be run as given; `usage` (e.g. "/status [topic]") is shown under the text. */
  usage: (text: string, usage?: string): Reply => ({ kind: 'usage', summary: text, ...(usage ? { lines: [`Usage: ${usage}`] } : {}), private: true }),
  denied: (text: string): Reply => ({ kind: 'denied', summary: text, private: true }),
  /** Nothing matched: free `lines` and "did you mean" `suggestions` (command lines without prefix, at most three). */
  noMatch: (text: string, more: { lines?: readonly string[]; suggestions?: readonly string[] }): Reply => ({
    kind: 'no-match',
    summary: text,
    ...(more.lines?.length ? { lines: [...more.lines] } : {}),
    ...(more.suggestions?.length ? { suggestions: more.suggestions.slice(0, 3) } : {}),
    private: true,
  }),
};
