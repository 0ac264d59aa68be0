import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface SeedSlide {
  page: number;
  title: string;
  /** Bullets and sub-bullets with the export's line wrapping folded. */
  bullets: { text: string; sub: boolean }[];
}

// From the repository root: the same in the source tree and when compiled for the bench.
export const SEED_PATH = resolve('test/fixtures/talk-export.txt');

/**
 * Reads the talk's text export independently of the knowledge loader: slide
 * titles, bullets (●) and sub-bullets (–), folded continuation lines, and the
 * page of each slide counted from the two surviving footers.
 */
export function parseSeed(text = readFileSync(SEED_PATH, 'utf8')): { slides: SeedSlide[]; footers: { page: number; beforeSlide: number }[] } {
  const slides: SeedSlide[] = [];
  const footers: { page: number; beforeSlide: number }[] = [];
  let expectTitle = true;
  let current: SeedSlide['bullets'][number] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    const footer = /^Page (\d+) of (\d+)$/.exec(line.trim());
    if (footer) {
      footers.push({ page: Number(footer[1]), beforeSlide: slides.length });
      expectTitle = true;
      continue;
    }
    if (line.trim() === '') continue;
    const bullet = /^\s*([●–])\s+(.*)$/.exec(line);
    if (bullet) {
      current = { text: bullet[2]!, sub: bullet[1] === '–' };
      slides[slides.length - 1]!.bullets.push(current);
      expectTitle = false;
    } else if (expectTitle || line.startsWith(' ')) {
      slides.push({ page: 0, title: line.trim(), bullets: [] });
      current = undefined;
      expectTitle = false;
    } else if (current) {
      current.text = `${current.text} ${line.trim()}`;
    }
  }
  for (const s of slides) for (const b of s.bullets) b.text = b.text.replace(/\s+/g, ' ').trim();
  // Slide 1 (title) is missing: the first slide of the export is page 2.
  slides.forEach((s, i) => {
    s.page = i + 2;
  });
  return { slides, footers };
}
