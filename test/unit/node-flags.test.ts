import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PRODUCTION_NODE_FLAGS } from '../bench/process.js';

// The bench measures memory with the flags production uses; the three places must not drift apart.
describe('V8 flags of production', () => {
  const flags = PRODUCTION_NODE_FLAGS.join(' ');

  it('npm start runs node with the same flags the bench measures', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(`exec node ${flags} dist/src/main.js`);
  });

  it('the image sets the same flags in NODE_OPTIONS', () => {
    expect(readFileSync('Dockerfile', 'utf8')).toContain(`ENV NODE_OPTIONS="${flags}"`);
  });
});
