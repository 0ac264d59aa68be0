import { SimpleFsStorageProvider } from 'matrix-bot-sdk';

/**
 * Sync state on disk that stops recording sync positions once the adapter stops: the SDK cannot abort
 * its long poll, and a /sync answered after stop() must not move the saved position past events that
 * nobody handled (the next start answers them within the grace period).
 */
export class SyncStorage extends SimpleFsStorageProvider {
  frozen = false;
  override setSyncToken(token: string | null): void {
    if (!this.frozen) super.setSyncToken(token);
  }
}
