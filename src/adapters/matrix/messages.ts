/** Inbound messages: commands, mentions and DMs turned into the core's message, answered through the sender. */
import type { Bot } from '../../core/bot.js';
import { isEdit, readMention, type MessageContent } from './events.js';
import { replyTxnId, type MatrixSender } from './send.js';
import type { Session } from './session.js';

/** A room event as matrix-bot-sdk hands it to listeners. */
export interface RoomEvent {
  event_id: string;
  sender: string;
  type: string;
  origin_server_ts: number;
  content: MessageContent & Record<string, unknown>;
  state_key?: string;
}

/** The (state) event type whose power level gates manager commands; rooms without an entry for it use `state_default`. */
const MANAGE_EVENT = 'org.kernel-status-bot.manage';

export interface MessageOptions {
  bot: Bot;
  prefix: string;
  /** BOT_ADMINS: Matrix user ids that may run bot-wide commands (/reload). */
  admins?: readonly string[];
}

/** Answers `m.room.message` events: `!commands` anywhere, questions when addressed or in a two-person room. */
export class Messages {
  private readonly memberCounts = new Map<string, number>();
  /** Per room, the transaction ids of the bot's last events, read once after a restart (see answeredBefore). */
  private readonly ownTxnIds = new Map<string, Promise<Set<string>>>();

  constructor(
    private readonly session: Session,
    private readonly sender: MatrixSender,
    private readonly opts: MessageOptions,
  ) {}

  async onMessage(roomId: string, ev: RoomEvent): Promise<void> {
    const s = this.session;
    if (!s.accepting || ev.sender === s.userId || ev.type !== 'm.room.message') return;
    const content = ev.content ?? {};
    if (content.msgtype === 'm.notice' || isEdit(content) || typeof content.body !== 'string') return;
    if (ev.origin_server_ts < s.cutoff) return;
    if (s.resumedAt !== undefined && ev.origin_server_ts < s.resumedAt && (await this.answeredBefore(roomId, ev.event_id))) return;
    const { mentioned, text } = readMention(content, s.userId, s.displayName);
    const isDirect = (this.memberCounts.get(roomId) ?? (await this.memberCount(roomId))) === 2;
    const reply = await this.opts.bot.handle(
      {
        platform: 'matrix',
        text: mentioned || isDirect ? text : content.body,
        userId: ev.sender,
        channelId: roomId,
        addressed: mentioned || isDirect,
        direct: isDirect,
        canManage: () => this.powerAllows(roomId, ev.sender),
        isAdmin: this.opts.admins?.includes(ev.sender) ?? false,
      },
      [this.opts.prefix],
    );
    if (reply) this.sender.reply(roomId, reply, ev.event_id);
  }

  /**
   * After a restart the homeserver delivers again the events of the last second before a crash (the sync
   * position is written at most once a second: SyncStorage). An event from before this start whose reply is
   * already in the room (found by the reply's transaction id, which this device sees on its own events,
   * encrypted or not) was handled: it is not handled again, so a command with an effect (`!digest subscribe`)
   * does not run twice. The room's last 100 events are read once per room.
   */
  private async answeredBefore(roomId: string, eventId: string): Promise<boolean> {
    let ids = this.ownTxnIds.get(roomId);
    if (!ids) {
      ids = this.sender.ownTxnIds(roomId);
      this.ownTxnIds.set(roomId, ids);
    }
    return (await ids).has(replyTxnId(eventId));
  }

  /** Call on every membership change of the room (and on leaving it): its member count is read again. */
  forget(roomId: string): void {
    this.memberCounts.delete(roomId);
  }

  private async memberCount(roomId: string): Promise<number> {
    let n = this.memberCounts.get(roomId);
    if (n === undefined) {
      n = (await this.session.client.getJoinedRoomMembers(roomId)).length;
      this.memberCounts.set(roomId, n);
    }
    return n;
  }

  /**
   * Whether the sender may manage the room: matrix-bot-sdk's check for a state event of our own type, so the
   * bar is the room's `state_default` (default 50) unless the room sets one for MANAGE_EVENT. A room without
   * power levels makes the SDK throw, and the core refuses.
   */
  private powerAllows(roomId: string, sender: string): Promise<boolean> {
    return this.session.client.userHasPowerLevelFor(sender, roomId, MANAGE_EVENT, true);
  }
}
