import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('configuration of several replicas', () => {
  it('GIVEN DATABASE_URL with MATRIX_E2EE=true THEN start-up is refused naming both; either alone is accepted', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u:p@db/kbot', MATRIX_E2EE: 'true' })).toThrow(ConfigError);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u:p@db/kbot', MATRIX_E2EE: 'true' })).toThrow(/MATRIX_E2EE.*DATABASE_URL/s);
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@db/kbot', MATRIX_E2EE: 'false' }).DATABASE_URL).toBe('postgres://u:p@db/kbot');
    expect(loadConfig({}).DATABASE_URL).toBeUndefined();
  });

  it('GIVEN a bad DATABASE_URL, lease or public key THEN the variable is named, never its value', () => {
    for (const [k, v] of [
      ['DATABASE_URL', 'mysql://secret@db'],
      ['REPLICA_LEASE_SECONDS', '1'],
      ['DISCORD_PUBLIC_KEY', 'abc'],
    ] as const) {
      let msg = '';
      try {
        loadConfig({ [k]: v });
      } catch (err) {
        msg = (err as Error).message;
      }
      expect(msg).toContain(k);
      expect(msg).not.toContain(v === '1' ? 'never' : v);
    }
    expect(loadConfig({ DISCORD_PUBLIC_KEY: 'a'.repeat(64), HTTP_PORT: '8080', REPLICA_LEASE_SECONDS: '6' })).toMatchObject({ REPLICA_LEASE_SECONDS: 6 });
    expect(() => loadConfig({ DISCORD_PUBLIC_KEY: 'a'.repeat(64) })).toThrow(/DISCORD_PUBLIC_KEY: needs HTTP_PORT/);
  });
});
