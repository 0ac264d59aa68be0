import { describe, expect, it } from 'vitest';
import { inviteAllowed, isEdit, readMention, stripReplyFallback } from '../../src/adapters/matrix/events.js';
import { MAX_EVENT_BYTES, renderMatrix } from '../../src/adapters/matrix/render.js';
import type { Reply } from '../../src/core/reply.js';

const BOT = '@kbot:fake.local';

describe('Matrix mentions', () => {
  it('GIVEN m.mentions THEN it decides alone', () => {
    expect(readMention({ body: 'kbot: btrfs?', 'm.mentions': { user_ids: [] } }, BOT, 'kbot').mentioned).toBe(false);
    expect(readMention({ body: 'btrfs?', 'm.mentions': { user_ids: [BOT] } }, BOT, 'kbot')).toEqual({ mentioned: true, text: 'btrfs?' });
  });

  it('GIVEN no m.mentions THEN a pill, the user id or the display name at the start counts', () => {
    expect(
      readMention(
        { body: 'kbot: what about btrfs?', formatted_body: '<a href="https://matrix.to/#/@kbot:fake.local">kbot</a>: what about btrfs?' },
        BOT,
        'kbot',
      ),
    ).toEqual({ mentioned: true, text: 'what about btrfs?' });
    expect(readMention({ body: 'hey @kbot:fake.local what about xfs?' }, BOT, 'kbot')).toMatchObject({ mentioned: true });
    expect(readMention({ body: 'KBot, what about xfs?' }, BOT, 'kbot')).toEqual({ mentioned: true, text: 'what about xfs?' });
    expect(readMention({ body: 'I like kbot' }, BOT, 'kbot').mentioned).toBe(false);
  });

  it('GIVEN a reply fallback quoting the bot THEN it is stripped before matching', () => {
    const body = '> <@kbot:fake.local> Filesystems [concern]\n> more\n\nthanks!';
    expect(stripReplyFallback(body).body).toBe('thanks!');
    expect(
      readMention({ body, formatted_body: '<mx-reply><a href="https://matrix.to/#/@kbot:fake.local">x</a></mx-reply>thanks!' }, BOT, 'kbot').mentioned,
    ).toBe(false);
  });

  it('GIVEN edits THEN they are recognised', () => {
    expect(isEdit({ body: '* fixed', 'm.relates_to': { rel_type: 'm.replace' } })).toBe(true);
    expect(isEdit({ body: 'new' })).toBe(false);
  });

  it('GIVEN invite rules THEN own server by default, lists, *:server and *', () => {
    expect(inviteAllowed('@alice:fake.local', undefined, BOT)).toBe(true);
    expect(inviteAllowed('@eve:evil.org', undefined, BOT)).toBe(false);
    expect(inviteAllowed('@eve:evil.org', '@bob:x.org, *:evil.org', BOT)).toBe(true);
    expect(inviteAllowed('@bob:x.org', '@bob:x.org', BOT)).toBe(true);
    expect(inviteAllowed('@anyone:any.where', '*', BOT)).toBe(true);
  });
});

describe('Matrix renderer', () => {
  it('GIVEN user text with HTML and @room THEN it is escaped, m.mentions is empty, and the reply relation has no fallback', () => {
    const c = renderMatrix({ kind: 'no-match', summary: 'No topic matches “<script>alert(1)</script> @room”.' }, '!', '$ev1');
    expect(c.formatted_body).toContain('&lt;script&gt;alert(1)&lt;/script&gt; @room');
    expect(c.formatted_body).not.toContain('<script>');
    expect(c['m.mentions']).toEqual({});
    expect(c['m.relates_to']).toEqual({ 'm.in_reply_to': { event_id: '$ev1' } });
    expect(c.body).not.toMatch(/^> /);
    expect(c.msgtype).toBe('m.notice');
  });

  it('GIVEN a reply far over 64 KiB THEN whole points are dropped with a pointer and the event fits', () => {
    const reply: Reply = {
      kind: 'status',
      title: 'Filesystems',
      verdict: 'concern',
      more: 'status filesystems',
      points: Array.from({ length: 3000 }, (_, i) => ({ text: `point ${i} & <b>${'x'.repeat(60)}</b>`, page: 10, topicId: 'fs', topicTitle: 'Filesystems' })),
    };
    const c = renderMatrix(reply, '!', '$e');
    expect(Buffer.byteLength(JSON.stringify(c))).toBeLessThan(MAX_EVENT_BYTES);
    expect(c.body).toMatch(/… \d+ more: see !status filesystems/);
    const kept = c.body.split('\n').filter((l) => l.startsWith('• '));
    expect(kept.length).toBeGreaterThan(100);
    for (const l of kept) expect(l).toMatch(/^• “point \d+ & <b>x{60}<\/b>” \(p\. 10\)$/);
  });

  it('GIVEN one enormous summary THEN it is clipped until the event fits', () => {
    const c = renderMatrix({ kind: 'info', summary: '&'.repeat(200_000), lines: Array.from({ length: 50 }, () => '"'.repeat(5000)) }, '!');
    expect(Buffer.byteLength(JSON.stringify(c))).toBeLessThan(MAX_EVENT_BYTES);
  });
});
