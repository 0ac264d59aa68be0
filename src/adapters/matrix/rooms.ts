/** Rooms: the invite policy, and the notices about encryption (turned off, or a message that cannot be decrypted). */
import type { IStorageProvider } from 'matrix-bot-sdk';
import type { Logger } from 'pino';
import { scrub } from '../../log.js';
import { inviteAllowed } from './events.js';
import type { RoomEvent } from './messages.js';
import { hashedTxnId, type MatrixSender } from './send.js';
import type { Session } from './session.js';

const E2EE_NOTICE = 'I cannot read encrypted messages: end-to-end encryption is turned off for this bot. Ask me in an unencrypted room.';
const UTD_NOTICE =
  "I could not decrypt a message here: the sender's device did not share its key with my device. Please send it again (verifying or re-sharing keys may help).";
/** At most one "could not decrypt" notice per room in this time. */
const UTD_NOTICE_EVERY_MS = 60 * 60_000;

/** The storage the notices are remembered in (across restarts): the sync storage's key-value part. */
type NoticeMemory = Pick<IStorageProvider, 'readValue' | 'storeValue'>;

export class Rooms {
  private readonly undecryptable = new Set<string>();

  constructor(
    private readonly session: Session,
    private readonly sender: MatrixSender,
    private readonly memory: NoticeMemory,
    private readonly log: Logger,
    /** MATRIX_INVITE_ALLOW (see inviteAllowed). */
    private readonly inviteAllow: string | undefined,
  ) {}

  /** Joins when MATRIX_INVITE_ALLOW lets the inviter bring the bot in; declines (leaves) otherwise. */
  async onInvite(roomId: string, ev: RoomEvent): Promise<void> {
    const { client, accepting, userId } = this.session;
    if (!accepting) return;
    if (!inviteAllowed(ev.sender, this.inviteAllow, userId)) {
      this.log.info({ room: roomId, inviter: ev.sender }, 'invite refused by MATRIX_INVITE_ALLOW');
      await client.leaveRoom(roomId);
      return;
    }
    try {
      await client.joinRoom(roomId);
      this.log.info({ room: roomId, inviter: ev.sender }, 'joined room');
    } catch (err) {
      this.log.warn({ err, room: roomId }, 'could not join room');
    }
  }

  /** Without encryption: a joined encrypted room hears once that the bot cannot read it. */
  async onJoin(roomId: string): Promise<void> {
    const { client } = this.session;
    if (client.crypto) return;
    const encryption = await client.getRoomStateEvent(roomId, 'm.room.encryption', '').catch(() => undefined);
    if (encryption) await this.noticeEncrypted(roomId);
  }

  /** Without encryption: the first encrypted message in a room gets the notice. */
  async onEvent(roomId: string, ev: RoomEvent): Promise<void> {
    const s = this.session;
    if (ev.type === 'm.room.encrypted' && !s.client.crypto && ev.sender !== s.userId && ev.origin_server_ts >= s.cutoff) await this.noticeEncrypted(roomId);
  }

  /** A message the machine cannot decrypt: logged once per (room, session); the room hears why at most hourly. */
  async onUndecryptable(roomId: string, ev: RoomEvent, err: unknown): Promise<void> {
    const s = this.session;
    if (!s.accepting || ev.sender === s.userId || ev.origin_server_ts < s.cutoff) return;
    const session = typeof ev.content?.session_id === 'string' ? ev.content.session_id : undefined;
    const key = `${roomId} ${session ?? ev.event_id}`;
    if (!this.undecryptable.has(key)) {
      if (this.undecryptable.size >= 10_000) this.undecryptable.clear();
      this.undecryptable.add(key);
      this.log.warn(
        { room: roomId, session, event: ev.event_id, sender: ev.sender, reason: scrub(err instanceof Error ? err.message : String(err)) },
        'cannot decrypt a message',
      );
    }
    const noticeKey = `utd_notice:${roomId}`;
    const last = Number((await this.memory.readValue(noticeKey)) ?? 0);
    const now = Date.now();
    if (now - last < UTD_NOTICE_EVERY_MS) return;
    await this.memory.storeValue(noticeKey, String(now));
    const slot = Math.floor(now / UTD_NOTICE_EVERY_MS);
    await this.sender.notice(roomId, UTD_NOTICE, hashedTxnId('utd', `${roomId} ${slot}`));
  }

  /** Says once per room (remembered across restarts) that encrypted messages cannot be read. */
  private async noticeEncrypted(roomId: string): Promise<void> {
    const key = `e2ee_notice:${roomId}`;
    if (await this.memory.readValue(key)) return;
    await this.memory.storeValue(key, '1');
    await this.sender.notice(roomId, E2EE_NOTICE, hashedTxnId('e2ee', roomId));
  }
}
