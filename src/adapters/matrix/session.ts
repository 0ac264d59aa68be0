import type { SyncReportingClient } from './client.js';

/**
 * The adapter's live state, shared by its parts (messages, rooms, sending): set by the adapter as it connects and
 * stops. The client is replaced once when encryption turns out to be impossible, so parts read it from here.
 */
export class Session {
  constructor(public client: SyncReportingClient) {}
  userId = '';
  displayName: string | undefined;
  /** Events older than this (origin_server_ts) are not answered: a fresh start never replays history. */
  cutoff = 0;
  /** When a restart resumed the sync (undefined on a fresh start): events before it may have been handled already. */
  resumedAt: number | undefined;
  /** False before connecting and from stop() on: events are ignored. */
  accepting = false;
}
