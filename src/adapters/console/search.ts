import type { Interface } from 'node:readline';

interface Key {
  name?: string;
  ctrl?: boolean;
  meta?: boolean;
}
type KeyHandler = (s: string | undefined, key: Key | undefined) => void;

const CTRL = (name: string): Key => ({ ctrl: true, name });

/**
 * Ctrl-R: reverse incremental search of the history, as in GNU readline. Typing narrows the search,
 * Backspace widens it, Ctrl-R again goes to an older match, Enter runs the match, Esc, Ctrl-G or Ctrl-C
 * give back the line as it was, any other key keeps the match in the line and then acts as usual.
 * Node's readline has no Ctrl-R (its REPL adds one the same way: by wrapping the key handler); where
 * that handler is missing, Ctrl-R is simply not offered.
 */
export function addReverseSearch(rl: Interface, prompt: string): void {
  const internal = rl as unknown as { _ttyWrite?: KeyHandler; history?: string[] };
  if (typeof internal._ttyWrite !== 'function') return;
  const handle = internal._ttyWrite.bind(rl);
  let search: { query: string; index: number; saved: string } | undefined;

  const setLine = (text: string) => {
    handle(undefined, CTRL('e'));
    handle(undefined, CTRL('u')); // redraws the prompt with an empty line
    if (text) handle(text, undefined);
  };
  const find = (query: string, from: number) => {
    const history = internal.history ?? [];
    for (let i = Math.max(from, 0); i < history.length; i++) if (history[i]!.includes(query)) return i;
    return -1;
  };
  const show = (failing: boolean) => {
    const s = search!;
    rl.setPrompt(`(${failing ? 'failing ' : ''}reverse-i-search)\`${s.query}': `);
    setLine(s.index >= 0 ? (internal.history?.[s.index] ?? '') : '');
  };
  const end = (line: string) => {
    search = undefined;
    rl.setPrompt(prompt);
    setLine(line);
  };
  const step = (query: string, from: number) => {
    const s = search!;
    const found = find(query, from);
    s.query = query;
    if (found >= 0 || query === '') s.index = found;
    show(found < 0 && query !== '');
  };

  internal._ttyWrite = (s, key) => {
    const k = key ?? {};
    if (!search) {
      if (k.ctrl && k.name === 'r') {
        search = { query: '', index: -1, saved: rl.line };
        show(false);
      } else handle(s, key);
      return;
    }
    const current = search.index >= 0 ? (internal.history?.[search.index] ?? '') : search.saved;
    if (k.ctrl && k.name === 'r') step(search.query, search.index + 1);
    else if (k.name === 'backspace') step(search.query.slice(0, -1), 0);
    else if (k.name === 'escape' || (k.ctrl && (k.name === 'g' || k.name === 'c'))) end(search.saved);
    else if (s && s.length === 1 && !k.ctrl && !k.meta && s >= ' ' && s !== '\x7f') step(search.query + s, search.index);
    else {
      end(current);
      handle(s, key);
    }
  };
}
