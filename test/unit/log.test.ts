import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger, scrub } from '../../src/log.js';

function logTo() {
  const file = join(mkdtempSync(join(tmpdir(), 'ksb-log-')), 'log.jsonl');
  const logger = createLogger('info', file);
  return { logger, lines: () => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>) };
}

describe('log redaction', () => {
  it('GIVEN secrets at the top level of a log object THEN they are censored; ordinary fields stay', () => {
    const { logger, lines } = logTo();
    logger.info({ token: 'tok-1', accessToken: 'syt_2', DISCORD_TOKEN: 'd3', headers: { authorization: 'Bot abc' }, platform: 'discord', ms: 0.5 }, 'handled');
    const [l] = lines();
    expect(l).toMatchObject({ token: '[Redacted]', accessToken: '[Redacted]', DISCORD_TOKEN: '[Redacted]', headers: { authorization: '[Redacted]' }, platform: 'discord', ms: 0.5, msg: 'handled' });
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
});
