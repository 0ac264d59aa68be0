import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv } from '../support/spawn.js';
import { Terminal } from '../support/pty.js';

const MAIN = 'dist/src/main.js';
const SGR = /\x1b\[[0-9;]*m/; // a colour or weight: readline itself only moves the cursor and clears
const terminals: Terminal[] = [];

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error('run `npm run build` first (npm test does it)');
});
afterEach(() => {
  for (const t of terminals.splice(0)) t.kill();
});

/** The console as a person starts it: a terminal, no LOG_LEVEL, no colour settings. */
function start(dataDir: string, extra: Record<string, string> = {}): Terminal {
  const env = cleanEnv({ DATA_DIR: dataDir, TERM: 'xterm-256color', ...extra });
  for (const k of ['LOG_LEVEL', 'NO_COLOR', 'FORCE_COLOR']) if (!(k in extra)) delete env[k];
  const t = new Terminal([MAIN], env);
  terminals.push(t);
  return t;
}

const prompt = (t: Terminal) => t.waitFor('kbot> ');
const historyOf = (dir: string) => readFileSync(join(dir, 'console-history'), 'utf8').split('\n').filter(Boolean);

describe('console adapter on a terminal (pseudo-terminal)', { timeout: 60_000 }, () => {
  it('GIVEN Tab THEN commands, subcommands, options, presets, topics, aliases and typos complete; answers are coloured and no log follows them; Ctrl-D exits 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ksb-tty-'));
    const t = start(dataDir);
    await prompt(t);

    await t.typeAndWait('/dig\t', '/digest ');
    await t.typeAndWait('sub\t', 'subscribe ');
    await t.typeAndWait('topics:fs sch\t', 'schedule:');
    await t.typeAndWait('week\t', 'weekly ');
    await t.typeAndWait('mo\t', 'mode:');
    await t.typeAndWait('ro\t', 'rotate ');
    await t.typeAndWait('\r', /Digest subscribed[\s\S]*kbot> /);

    await t.typeAndWait('/sta\t', '/status ');
    await t.typeAndWait('filesy\t', 'filesystems');
    await t.typeAndWait('\r', /Filesystems \[concern\][\s\S]*kbot> /);

    await t.typeAndWait('/status filesytems', 'filesytems');
    await t.typeAndWait('\t', 'kbot> /status filesystems'); // a misspelt topic is replaced by the best match
    await t.typeAndWait('\r', /Filesystems \[concern\][\s\S]*kbot> /);

    await t.typeAndWait('/status to\t', '/status topic:');
    await t.typeAndWait('kv\t', 'kvm'); // an alias
    await t.typeAndWait('\r', /Hardware virtualisation \[good\][\s\S]*kbot> /);

    // What was submitted is what the completions made, word for word.
    expect(historyOf(dataDir)).toEqual(['/digest subscribe topics:fs schedule:weekly mode:rotate', '/status filesystems', '/status topic:kvm']);

    // Colour: verdict by meaning, title bold, citation dim.
    expect(t.raw).toContain('\x1b[31m[concern]\x1b[39m');
    expect(t.raw).toContain('\x1b[32m[good]\x1b[39m');
    expect(t.raw).toContain('\x1b[1mFilesystems\x1b[22m');
    expect(t.raw).toMatch(/\x1b\[2m\(p\. 1[01]\)\x1b\[22m/);
    // Quiet at the default level: no "handled" block (or any log line) in the conversation.
    expect(t.text).not.toMatch(/handled|INFO|"level"|knowledge loaded/);

    t.type('\x04');
    expect(await t.exited).toBe(0);
  });

  it('GIVEN a restart on the same DATA_DIR THEN Up recalls the last line and Ctrl-R searches; NO_COLOR gives no colour; Ctrl-C clears a line, warns on an empty one, and a second Ctrl-C exits 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ksb-tty-'));
    const first = start(dataDir);
    await prompt(first);
    await first.typeAndWait('/status topic:kvm\r', /Hardware virtualisation \[good\][\s\S]*kbot> /);
    first.type('\x04');
    expect(await first.exited).toBe(0);

    const t = start(dataDir, { NO_COLOR: '1' });
    await prompt(t);
    await t.typeAndWait('\x1b[A', '/status topic:kvm');
    await t.typeAndWait('\r', /Hardware virtualisation \[good\][\s\S]*kbot> /);
    expect(t.raw).not.toMatch(SGR);

    await t.typeAndWait('abc', 'abc');
    t.type('\x03'); // clears the line without quitting
    await t.typeAndWait('/topics\r', /Topics \(11\)[\s\S]*kbot> /);
    expect(t.text).not.toContain('abc/topics');

    // Ctrl-R searches the history: older matches with Ctrl-R again, Enter runs the one shown.
    await t.typeAndWait('/status fs\r', /Filesystems \[concern\][\s\S]*kbot> /);
    await t.typeAndWait('\x12', "(reverse-i-search)`': ");
    await t.typeAndWait('st', "(reverse-i-search)`st': /status fs");
    await t.typeAndWait('\x12', "(reverse-i-search)`st': /status topic:kvm"); // past /topics, which has no "st"
    await t.typeAndWait('\r', /Hardware virtualisation \[good\][\s\S]*kbot> /);
    await t.typeAndWait('\x12', "(reverse-i-search)`': ");
    await t.typeAndWait('zzz', "(failing reverse-i-search)`zzz': ");
    await t.typeAndWait('\x07', 'kbot> '); // Ctrl-G gives back the empty line

    await t.typeAndWait('\x03', 'To quit, press Ctrl-C again or Ctrl-D, or type /quit.');
    t.type('\x03');
    expect(await t.exited).toBe(0);
    expect(t.raw).not.toMatch(SGR);
  });

  it('GIVEN a digest due while the user types THEN it is posted under a header and the prompt comes back with the typed text; a warning is one short line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ksb-tty-'));
    mkdirSync(join(dir, 'console-history')); // a history that can be neither read nor written
    const t = start(dir, { DIGEST_MIN_INTERVAL_SECONDS: '1' });
    await prompt(t);
    const warning = t.text.split(/\r?\n/).filter((l) => l.includes('console history not readable'));
    expect(warning).toHaveLength(1);
    expect(warning[0]).toMatch(/WARN.*console history not readable; starting without it: EISDIR/);
    expect(t.text).not.toMatch(/^\s+(err|stack|type):/m); // no pretty-printed object block

    await t.typeAndWait('/digest subscribe topics:fs schedule:"*/2 * * * * *" mode:rotate\r', /Digest subscribed[\s\S]*kbot> /);
    const from = t.mark();
    await t.typeAndWait('abc', 'abc');
    const shown = await t.waitFor(/── digest · \d\d:\d\d ──\s+Digest: Filesystems \[concern\][\s\S]*— From the talk[^\n]*\n\s*kbot> abc/, from);
    expect(shown).toBeTruthy();
    expect(t.text.match(/console history not saved/g)).toHaveLength(1); // said once, not after every line

    t.type('\x03');
    t.type('\x04');
    expect(await t.exited).toBe(0);
  });
});
