import { z } from 'zod';

/**
 * The longest bullet or sub-bullet, in characters: a slide line, not a page (the talk's longest is 159). Several
 * must fit in one chat reply (Discord: 4,096 characters of description).
 */
export const MAX_BULLET_CHARS = 500;

const bulletText = z.string().trim().min(1).max(MAX_BULLET_CHARS, `a bullet is at most ${MAX_BULLET_CHARS} characters (a slide line, not a page); split it`);

/** A bullet of a slide, with optional sub-bullets (the speaker's own words). */
const bullet = z.strictObject({
  text: bulletText,
  sub: z.array(bulletText).default([]),
});

const slide = z.strictObject({
  page: z.number().int().positive(),
  title: z.string().trim().min(1),
  bullets: z.array(bullet).min(1),
});

export const VERDICTS = ['good', 'mixed', 'concern', 'unrated'] as const;
export type Verdict = (typeof VERDICTS)[number];

const topicId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,48}$/, 'must be lowercase letters, digits and dashes (at most 49)');

const topic = z
  .strictObject({
    id: topicId,
    title: z.string().trim().min(1).max(90),
    aliases: z.array(z.string().trim().min(1).max(60)).default([]),
    summary: z.string().trim().min(1).max(300),
    verdict: z.enum(VERDICTS),
    verdict_quote: z.string().trim().min(1).nullable(),
    slides: z.array(slide),
  })
  .refine((t) => t.verdict === 'unrated' || t.verdict_quote !== null, {
    message: 'a rated topic needs a verdict_quote',
    path: ['verdict_quote'],
  });

/**
 * A domain term of the talk and the other names people use for it (abbreviations, spelled-out
 * forms, vendor and project names, common misnomers). `term` must occur in the talk.
 */
const glossaryEntry = z.strictObject({
  term: z.string().trim().min(1).max(60),
  also: z.array(z.string().trim().min(1).max(60)).min(1),
});

/** One knowledge file: a talk and its topics. */
export const talkFileSchema = z.strictObject({
  talk: z.strictObject({
    id: topicId,
    title: z.string().trim().min(1),
    title_note: z.string().optional(),
    speaker: z.string().nullable(),
    speaker_note: z.string().optional(),
    era: z.string().optional(),
    pages: z.number().int().positive(),
    source: z.string().min(1),
    overview: slide.optional(),
  }),
  topics: z.array(topic).min(1),
  glossary: z.array(glossaryEntry).default([]),
});

export type TalkFile = z.infer<typeof talkFileSchema>;
export type GlossaryData = z.infer<typeof glossaryEntry>;
