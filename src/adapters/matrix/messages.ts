/** Inbound messages: commands, mentions and DMs turned into the core's message, answered through the sender. */
import type { Bot } from '../../core/bot.js';
import { isEdit, readMention, type MessageContent } from './events.js';
import type { MatrixSender } from './send.js';
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
