import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatSlot, nextSlots, parseSchedule, previousSlot, shortestIntervalSeconds } from '../../src/digest/schedule.js';

afterEach(() => vi.useRealTimers());

describe('digest schedules', () => {
  it.each([
    ['0 9 * * 1', '0 9 * * 1'],
    ['*/5 * * * * *', '*/5 * * * * *'],
    ['daily', '0 9 * * *'],
    ['daily 18:30', '30 18 * * *'],
    ['weekly', '0 9 * * 1'],
    ['Weekly Friday 17:05', '5 17 * * 5'],
    ['hourly', '0 * * * *'],
  ])('GIVEN "%s" THEN cron "%s"', (input, cron) => {
    expect(parseSchedule(input)).toEqual({ ok: true, cron });
  });

  const fields = /^a schedule is a cron expression of 5 fields \(or 6 with seconds\), or a preset: hourly, daily \[HH:MM\], weekly \[day\] \[HH:MM\]$/;
  it.each([
    ['', fields],
    ['sometimes', fields],
    ['61 * * * *', /^"61 \* \* \* \*" is not a valid cron expression \(.+\)$/],
    ['* * *', fields],
    ['daily 25:00', /^"25:00" is not a time of day \(use HH:MM, 00:00 to 23:59\)$/],
    ['weekly funday', /^"fun" is not a day of the week \(mon … sun\)$/],
    ['1 2 3 4 5 6 7 8', fields],
    ['hourly 10:00', /^hourly takes no day or time$/],
    ['daily mon', /^daily takes a time, not a day/],
  ])('GIVEN "%s" THEN an error that says what is wrong', (input, message) => {
    const r = parseSchedule(input);
    expect(r).toEqual({ ok: false, error: expect.stringMatching(message) });
  });

  it('GIVEN fake time before the spring DST change in Berlin THEN 09:00 local stays 09:00 (08:00 UTC, then 07:00 UTC)', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-03-20T12:00:00Z'));
    const runs = nextSlots('0 9 * * 1', 'Europe/Berlin', new Date(), 3);
    expect(runs.map((d) => d.toISOString())).toEqual(['2026-03-23T08:00:00.000Z', '2026-03-30T07:00:00.000Z', '2026-04-06T07:00:00.000Z']);
    expect(runs.map((d) => formatSlot(d, 'Europe/Berlin'))).toEqual([
      'Mon 2026-03-23 09:00 Europe/Berlin',
      'Mon 2026-03-30 09:00 Europe/Berlin',
      'Mon 2026-04-06 09:00 Europe/Berlin',
    ]);
  });

  it('GIVEN a daily 02:30 slot on the night the clocks skip 02:00–03:00 (New York) THEN the day still gets exactly one slot', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-03-07T12:00:00Z'));
    const runs = nextSlots('30 2 * * *', 'America/New_York', new Date(), 3).map((d) => d.toISOString());
    expect(runs).toHaveLength(3);
    expect(runs[0]).toBe('2026-03-08T07:00:00.000Z'); // 02:30 does not exist that night: croner runs it at 03:00 EDT, once
    expect(runs[1]).toBe('2026-03-09T06:30:00.000Z');
  });

  it('GIVEN fake time at a slot THEN previousSlot includes it; a little later it is still the latest', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-06-01T09:00:00Z'));
    expect(previousSlot('0 9 * * *', 'UTC', new Date())!.toISOString()).toBe('2026-06-01T09:00:00.000Z');
    vi.advanceTimersByTime(3 * 3600_000);
    expect(previousSlot('0 9 * * *', 'UTC', new Date())!.toISOString()).toBe('2026-06-01T09:00:00.000Z');
  });

  it('GIVEN schedules THEN the shortest interval is measured for the spam floor', () => {
    expect(shortestIntervalSeconds('*/5 * * * * *', 'UTC', new Date())).toBe(5);
    expect(shortestIntervalSeconds('0 9 * * 1', 'UTC', new Date())).toBe(7 * 86_400);
    expect(shortestIntervalSeconds('0,1 9 * * *', 'UTC', new Date())).toBe(60);
  });
});
