import { Cron } from 'croner';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** The schedule presets that stand alone (each with its default time), offered by completion. */
export const SCHEDULE_PRESETS = ['hourly', 'daily', 'weekly'] as const;

export type ScheduleResult = { ok: true; cron: string } | { ok: false; error: string };

/**
 * A schedule as users type it: a cron expression (5 fields, or 6 with
 * seconds) or a preset: `hourly`, `daily [HH:MM]`, `weekly [day] [HH:MM]`
 * (default 09:00, Monday).
 */
export function parseSchedule(input: string): ScheduleResult {
  const s = input.trim().toLowerCase().replace(/\s+/g, ' ');
  const preset = /^(hourly|daily|weekly)(?: ([a-z]{3})[a-z]*)?(?: (\d{1,2}):(\d{2}))?$/.exec(s);
  if (preset) {
    const [, kind, day, hh, mm] = preset;
    const hour = hh === undefined ? 9 : Number(hh);
    const minute = mm === undefined ? 0 : Number(mm);
    if (hour > 23 || minute > 59) return { ok: false, error: `"${hh}:${mm}" is not a time of day (use HH:MM, 00:00 to 23:59)` };
    if (kind === 'hourly') return day || hh ? { ok: false, error: 'hourly takes no day or time' } : { ok: true, cron: '0 * * * *' };
    if (kind === 'daily') return day ? { ok: false, error: 'daily takes a time, not a day (e.g. daily 18:30)' } : { ok: true, cron: `${minute} ${hour} * * *` };
    const dow = day === undefined ? 1 : DAYS.indexOf(day);
    if (dow < 0) return { ok: false, error: `"${day}" is not a day of the week (mon … sun)` };
    return { ok: true, cron: `${minute} ${hour} * * ${dow}` };
  }
  const fields = s.split(' ');
  if (fields.length !== 5 && fields.length !== 6) {
    return { ok: false, error: 'a schedule is a cron expression of 5 fields (or 6 with seconds), or a preset: hourly, daily [HH:MM], weekly [day] [HH:MM]' };
  }
  try {
    new Cron(s, { paused: true, mode: '5-or-6-parts' });
  } catch (err) {
    return { ok: false, error: `"${input.trim()}" is not a valid cron expression (${(err as Error).message.replace(/^CronPattern: /, '')})` };
  }
  return { ok: true, cron: s };
}

/** True for an IANA time zone name this runtime knows (e.g. Europe/Berlin, UTC). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return tz.length > 0;
  } catch {
    return false;
  }
}

/** Parsed expressions by (expression, time zone): parsing costs more than computing a run, and subscriptions share schedules. */
const parsed = new Map<string, Cron>();

function cronOf(cron: string, timezone: string): Cron {
  const key = `${cron}\u0000${timezone}`;
  let c = parsed.get(key);
  if (!c) {
    if (parsed.size >= 10_000) parsed.clear(); // a bound, far above the distinct schedules of any real deployment
    c = new Cron(cron, { paused: true, timezone, mode: '5-or-6-parts' });
    parsed.set(key, c);
  }
  return c;
}

/** The next `n` slots strictly after `from`, computed by croner in the time zone (DST included). */
export function nextSlots(cron: string, timezone: string, from: Date, n: number): Date[] {
  return cronOf(cron, timezone).nextRuns(n, from);
}

/** The latest slot at or before `at` (for catch-up after downtime), or undefined. */
export function previousSlot(cron: string, timezone: string, at: Date): Date | undefined {
  // previousRuns looks strictly before the reference: step 1 ms past `at` so a slot exactly at `at` counts.
  return cronOf(cron, timezone).previousRuns(1, new Date(at.getTime() + 1))[0];
}

/** The shortest gap between consecutive slots over the next `sample` runs, in seconds. */
export function shortestIntervalSeconds(cron: string, timezone: string, from: Date, sample = 50): number {
  const runs = nextSlots(cron, timezone, from, sample);
  let min = Number.POSITIVE_INFINITY;
  for (let i = 1; i < runs.length; i++) min = Math.min(min, (runs[i]!.getTime() - runs[i - 1]!.getTime()) / 1000);
  return min;
}

/** A slot formatted in its time zone, e.g. "Mon 2026-03-30 09:00 Europe/Berlin". */
export function formatSlot(d: Date, timezone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    weekday: 'short',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(d);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const seconds = get('second') === '00' ? '' : `:${get('second')}`;
  return `${get('weekday')} ${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}${seconds} ${timezone}`;
}
