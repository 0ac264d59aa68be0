import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderText } from '../../src/core/render-text.js';
import { makeBot, msg } from '../support/bot.js';

describe('/digest subscribe with a topic it does not know', () => {
  let b: Awaited<ReturnType<typeof makeBot>>;
  beforeAll(async () => {
    b = await makeBot({ digests: true });
  });
  afterAll(() => b.close());

  const subscribe = async (topics: string, userId: string) => {
    const reply = await b.bot.handle(msg(`!digest subscribe topics:"${topics}" schedule:daily mode:rotate`, { canManage: true, userId }), ['!']);
    return renderText(reply!, '!');
  };

  it('suggests the close topics by the name to type', async () => {
    const text = await subscribe('realtme kernel', 'u1');
    expect(text).toMatch(/Unknown topic “realtme kernel”/);
    expect(text).toMatch(/Did you mean: realtime\b/);
  });

  it('lists every topic when nothing comes close: the name to type, and the title where it says more', async () => {
    const text = await subscribe('wayland', 'u2');
    expect(text).toMatch(/Topics: linux-next — The linux-next tree, .*, filesystems, .*os-virtualisation — OS virtualisation\/resource management, .*, or all/);
    expect(text).not.toMatch(/filesystems —/);
  });

  it('subscribes nothing after an unknown topic', async () => {
    const list = await b.bot.handle(msg('!digest list', { canManage: true, userId: 'u3' }), ['!']);
    expect(list?.summary).toMatch(/No digests/);
  });
});
