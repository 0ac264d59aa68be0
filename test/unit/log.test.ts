import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger, registerSecrets, scrub } from '../../src/log.js';

function logTo() {
  const file = join(mkdtempSync(join(tmpdir(), 'ksb-log-')), 'log.jsonl');
  const logger = createLogger('info', file);
  return {
    logger,
    lines: () =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, any>),
  };
}

describe('log redaction', () => {
  it('GIVEN secrets at the top level of a log object THEN they are censored; ordinary fields stay', () => {
    const { logger, lines } = logTo();
    logger.info({ token: 'tok-1', accessToken: 'syt_2', DISCORD_TOKEN: 'd3', headers: { authorization: 'Bot abc' }, platform: 'discord', ms: 0.5 }, 'handled');
    const [l] = lines();
    expect(l).toMatchObject({
      token: '[Redacted]',
      accessToken: '[Redacted]',
      DISCORD_TOKEN: '[Redacted]',
      headers: { authorization: '[Redacted]' },
      platform: 'discord',
      ms: 0.5,
      msg: 'handled',
    });
  });

  it('GIVEN an SDK error carrying credentials in nested fields, URLs and its message THEN none of them is written', () => {
    const { logger, lines } = logTo();
    const interactionToken = 'aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw';
    const err = Object.assign(new Error('GET https://hs.example/_matrix/client/v3/sync?access_token=syt_secret_1 failed'), {
      url: `https://discord.com/api/v10/interactions/123456789012345678/${interactionToken}/callback`,
      requestOptions: { headers: { Authorization: 'Bearer syt_secret_2' } },
      config: { token: 'secret_3' },
      response: { headers: { authorization: 'Bot secret_4' }, body: { access_token: 'syt_secret_5', errcode: 'M_UNKNOWN_TOKEN' } },
      cause: { password: 'secret_6' },
    });
    logger.error({ err }, 'request failed');
    const raw = JSON.stringify(lines());
    for (const s of ['syt_secret_1', 'syt_secret_2', 'secret_3', 'secret_4', 'syt_secret_5', 'secret_6', interactionToken]) expect(raw).not.toContain(s);
    const [l] = lines();
    expect(l!.err.message).toContain('access_token=[Redacted]');
    expect(l!.err.url).toBe('https://discord.com/api/v10/interactions/123456789012345678/[Redacted]/callback');
    expect(l!.err.response.body.errcode).toBe('M_UNKNOWN_TOKEN'); // what helps debugging stays
    expect(l!.err.requestOptions).toBeUndefined();
  });

  it('scrub leaves text without secrets unchanged', () => {
    expect(scrub('GET /channels/123/messages 404 Unknown Channel')).toBe('GET /channels/123/messages 404 Unknown Channel');
  });

  it('GIVEN ordinary words around "Bot" and "Bearer" THEN they stay; stack frames are not mangled', () => {
    expect(scrub('Developer Portal (Bot → Reset Token)')).toBe('Developer Portal (Bot → Reset Token)');
    const frame = 'Error: boom\n    at startBot (file:///app/dist/src/runtime.js:42:11)\n    at async main (file:///app/dist/src/main.js:14:19)';
    expect(scrub(frame)).toBe(frame);
    expect(scrub('the Bot user and a Bearer scheme')).toBe('the Bot user and a Bearer scheme');
  });

  it('GIVEN token values and token-shaped strings anywhere THEN each is redacted', () => {
    // A Discord-token-shaped value (base64 user id . 6 . 38 characters), random on every run.
    const discordToken = [Buffer.from('123456789012345678').toString('base64url'), randomBytes(3).toString('hex'), randomBytes(19).toString('hex')].join('.');
    expect(scrub(`Authorization: Bot ${discordToken}`)).toBe('Authorization: Bot [Redacted]');
    expect(scrub(`login failed for ${discordToken} (401)`)).toBe('login failed for [Redacted] (401)');
    expect(scrub('Authorization: Bearer syt_a2JvdA_ZxBmTqHXcYxDzWQnPoLk_2xO4hu')).toBe('Authorization: Bearer [Redacted]');
    expect(scrub('token syt_a2JvdA_ZxBmTqHXcYxDzWQnPoLk_2xO4hu expired')).toBe('token [Redacted] expired');
    registerSecrets('plain-configured-secret-value');
    expect(scrub('echoed plain-configured-secret-value back')).toBe('echoed [Redacted] back');
  });
});
