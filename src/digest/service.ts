import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from '../core/command.js';
import { ellipsis } from '../core/ellipsis.js';
import type { Reply } from '../core/reply.js';
import { replies } from '../core/reply.js';
import type { KnowledgeBase } from '../knowledge/base.js';
import type { Topic } from '../knowledge/model.js';
import { digestContent, topicsOf } from './content.js';
import { formatSlot, isTimeZone, nextSlots, parseSchedule, shortestIntervalSeconds } from './schedule.js';
import type { DigestMode, DigestStore, Subscription } from './store.js';

export type { DigestMode };

export interface DigestSettings {
  minIntervalSeconds: number;
  maxPerChannel: number;
  /** Called after a subscription is added or removed (wakes the scheduler). */
  onChange?: () => void;
  /** Called when a write fails (full disk…), to log and count it; the user gets a short refusal. */
  onStorageError?: (err: unknown) => void;
}

export interface SubscribeInput {
  topics: string;
  schedule: string;
  timezone?: string;
  mode: DigestMode;
}

/**
 * The digest commands' logic: validate, store, describe. Platform-neutral;
 * the scheduler does the posting.
 */
export class DigestService {
  constructor(
    readonly store: DigestStore,
    private readonly knowledge: KnowledgeBase,
    private readonly settings: DigestSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Refused in a direct conversation: digests are posts to a community's channel or room, not personal reminders. */
  async subscribe(msg: IncomingMessage, input: SubscribeInput): Promise<Reply> {
    if (msg.direct)
      return problem(
        'Digests are posted to a channel or room for everyone in it, not in a direct conversation with me. Subscribe in a channel you manage; here, ask me about any topic whenever you like.',
      );
    const unhealthy = this.store.health?.();
    if (unhealthy) return problem("Digests cannot be stored right now (the bot's database needs attention); nothing was subscribed. Try again later.");
    const timezone = (input.timezone ?? 'UTC').trim() || 'UTC';
    if (!isTimeZone(timezone)) return problem(`Unknown time zone “${clip(timezone)}”. Use an IANA name such as Europe/Berlin, America/New_York or UTC.`);
    const schedule = parseSchedule(input.schedule);
    if (!schedule.ok) return problem(`That schedule does not work: ${schedule.error}.`);
    const gap = shortestIntervalSeconds(schedule.cron, timezone, new Date(this.now()));
    if (!Number.isFinite(gap)) return problem('That schedule never runs (or runs only once); pick a repeating one.');
    if (gap < this.settings.minIntervalSeconds) {
      return problem(
        `That schedule posts every ${duration(gap)}; the minimum interval here is ${duration(this.settings.minIntervalSeconds)} (DIGEST_MIN_INTERVAL_SECONDS).`,
      );
    }
    const topics = this.resolveTopics(input.topics);
    if ('error' in topics) return topics.error;
    const existing = await this.store.listChannel(msg.platform, msg.channelId);
    if (existing.length >= this.settings.maxPerChannel) {
      return problem(`This channel already has ${existing.length} digests, the most allowed (DIGEST_MAX_PER_CHANNEL). Unsubscribe one first.`);
    }
    const sub: Subscription = {
      id: newId(),
      platform: msg.platform,
      channelId: msg.channelId,
      topics: topics.all ? [] : topics.list.map((t) => t.id),
      allTopics: topics.all,
      schedule: schedule.cron,
      timezone,
      mode: input.mode,
      createdBy: msg.userId,
      createdAt: this.now(),
      position: 0,
      lastSlot: null,
      lastHashes: {},
      enabled: true,
      disabledReason: null,
    };
    try {
      await this.store.add(sub);
    } catch (err) {
      this.settings.onStorageError?.(err);
      return problem('Digests cannot be stored right now (storage error); nothing was subscribed. Try again later.');
    }
    this.settings.onChange?.();
    const k = this.knowledge.current.knowledge;
    return {
      kind: 'info',
      title: 'Digest subscribed',
      summary: `ID: ${sub.id}`,
      lines: [
        `Topics: ${
          topics.all
            ? 'all'
            : topicsOf(k, sub)
                .map((t) => t.title)
                .join(', ')
        } · mode: ${sub.mode} · schedule: ${sub.schedule} (${timezone})`,
        'Next runs:',
        ...nextSlots(sub.schedule, timezone, new Date(this.now()), 3).map((d) => `• ${formatSlot(d, timezone)}`),
      ],
    };
  }

  async list(msg: IncomingMessage): Promise<Reply> {
    const subs = await this.store.listChannel(msg.platform, msg.channelId);
    if (subs.length === 0) return { kind: 'info', title: 'Digests', summary: 'No digests in this channel yet.' };
    const k = this.knowledge.current.knowledge;
    return {
      kind: 'info',
      title: `Digests (${subs.length})`,
      lines: subs.map((s) => {
        const next = s.enabled ? nextSlots(s.schedule, s.timezone, new Date(this.now()), 1)[0] : undefined;
        const what = s.allTopics
          ? 'all topics'
          : topicsOf(k, s)
              .map((t) => t.id)
              .join(', ');
        const state = s.enabled ? `next: ${next ? formatSlot(next, s.timezone) : 'never'}` : `disabled: ${s.disabledReason ?? 'unknown reason'}`;
        return `• ID: ${s.id} · ${s.mode} · ${what} · ${s.schedule} (${s.timezone}) · ${state}`;
      }),
    };
  }

  async unsubscribe(msg: IncomingMessage, id: string): Promise<Reply> {
    const clean = id.trim().toLowerCase();
    let removed: boolean;
    try {
      removed = await this.store.remove(clean, msg.platform, msg.channelId);
    } catch (err) {
      this.settings.onStorageError?.(err);
      return problem('Digests cannot be changed right now (storage error); the digest is still subscribed. Try again later.');
    }
    if (!removed) return problem(`No digest with ID: ${clip(clean)} in this channel. See the list of digests here.`);
    this.settings.onChange?.();
    return { kind: 'info', title: 'Digest removed', summary: `ID: ${clean}` };
  }

  async preview(msg: IncomingMessage, id?: string): Promise<Reply> {
    const subs = await this.store.listChannel(msg.platform, msg.channelId);
    const sub = id ? subs.find((s) => s.id === id.trim().toLowerCase()) : subs[0];
    if (!sub) return problem(id ? `No digest with ID: ${clip(id)} in this channel.` : 'No digests in this channel to preview.');
    const { reply } = digestContent(this.knowledge.current.knowledge, sub, sub.position);
    return { ...reply, private: true, lines: [`Preview of the next post of digest ID: ${sub.id}`, ...(reply.lines ?? [])] };
  }

  private resolveTopics(input: string): { all: boolean; list: Topic[] } | { error: Reply } {
    const k = this.knowledge.current;
    const words = input
      .split(/[,;]+/)
      .map((w) => w.trim())
      .filter(Boolean);
    if (words.length === 0) return { error: problem('Name at least one topic, several separated by commas, or all.') };
    if (words.length === 1 && words[0]!.toLowerCase() === 'all') return { all: true, list: [...k.knowledge.topics] };
    const found = new Set<Topic>();
    for (const w of words.slice(0, 50)) {
      const r = k.search.findTopic(w);
      if (r.kind === 'none') {
        const lines = r.suggestions.length
          ? [`Did you mean: ${r.suggestions.map(topicChoice).join(', ')}?`]
          : [`Topics: ${k.knowledge.topics.map(topicChoice).join(', ')}, or all`];
        return { error: replies.noMatch(`Unknown topic “${clip(w)}”.`, { lines }) };
      }
      found.add(r.topic);
    }
    // Stable order: the talk's.
    return { all: false, list: k.knowledge.topics.filter((t) => found.has(t)) };
  }
}

const problem = (text: string): Reply => replies.usage(text);
const clip = (s: string): string => ellipsis(s, 60);

function newId(): string {
  return randomBytes(5).readUIntBE(0, 5).toString(36).padStart(8, '0').slice(-8);
}

function duration(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** A topic as a choice to type: its id, followed by its title when the title says more than the id. */
function topicChoice(t: Topic): string {
  return t.title.toLowerCase() === t.id.replace(/-/g, ' ') ? t.id : `${t.id} — ${ellipsis(t.title, 40)}`;
}
