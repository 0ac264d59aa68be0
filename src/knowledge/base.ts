import { watch, type FSWatcher } from 'node:fs';
import { KnowledgeError, loadKnowledge } from './load.js';
import type { Knowledge } from './model.js';
import { SearchIndex } from './search.js';

/** The knowledge and its indexes, swapped together. */
export interface Loaded {
  readonly knowledge: Knowledge;
  readonly search: SearchIndex;
}

export type ReloadResult = { ok: true; version: string; topics: number; changed: boolean } | { ok: false; reason: string };

/**
 * Holds the current knowledge. Reload validates the new files and builds the
 * new indexes completely before swapping one reference, so a reader sees the
 * old or the new knowledge, never a mix; a broken change keeps the old one.
 */
export class KnowledgeBase {
  private loaded: Loaded;
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;

  constructor(
    readonly dir: string,
    initial?: Knowledge,
  ) {
    const knowledge = initial ?? loadKnowledge(dir);
    this.loaded = { knowledge, search: new SearchIndex(knowledge) };
  }

  get current(): Loaded {
    return this.loaded;
  }

  reload(): ReloadResult {
    let next: Loaded;
    try {
      const knowledge = loadKnowledge(this.dir);
      next = { knowledge, search: new SearchIndex(knowledge) };
    } catch (err) {
      return { ok: false, reason: err instanceof KnowledgeError ? err.message : String(err) };
    }
    const changed = next.knowledge.version !== this.loaded.knowledge.version;
    if (changed) {
      this.loaded = next;
    }
    return { ok: true, version: next.knowledge.version, topics: next.knowledge.topics.length, changed };
  }

  /** Reloads when a file under the directory changes (debounced); `report` gets each outcome. */
  watch(report: (r: ReloadResult) => void, debounceMs = 300): void {
    this.watcher = watch(this.dir, { persistent: false }, () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => report(this.reload()), debounceMs);
    });
    this.watcher.on('error', (err) => report({ ok: false, reason: `watching ${this.dir} failed: ${err.message}` }));
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }
}
