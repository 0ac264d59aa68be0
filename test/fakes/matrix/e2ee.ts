/**
 * The end-to-end encryption part of the fake homeserver: device keys, one-time and fallback keys, to-device
 * messages and device-list changes (https://spec.matrix.org/v1.11/client-server-api/#end-to-end-encryption).
 * Every change takes a stream position from the homeserver model, so a held /sync wakes for it.
 */
import type { HomeserverModel } from './model.js';

interface Device {
  keys?: any;
  /** "alg:id" → key object, in upload order. */
  oneTimeKeys: Map<string, any>;
  /** alg → { id: "alg:id", key, used }. */
  fallback: Map<string, { id: string; key: any; used: boolean }>;
}

/** A to-device event as delivered in /sync. */
export interface ToDeviceEvent {
  sender: string;
  type: string;
  content: any;
}

/** Thrown for a request the spec would reject (the server turns it into a 400). */
export class BadKeysRequest extends Error {}

export class FakeKeyServer {
  private readonly devices = new Map<string, Map<string, Device>>();
  /** Per "user device": queued to-device events with their stream position. */
  private readonly inboxes = new Map<string, { pos: number; event: ToDeviceEvent }[]>();
  /** Latest stream position at which a user's device list changed. */
  private readonly changedAt = new Map<string, number>();
  /** Every to-device message sent, for assertions. */
  readonly toDeviceLog: { sender: string; type: string; to: string; device: string; content: any }[] = [];

  constructor(private readonly model: HomeserverModel) {}

  private device(userId: string, deviceId: string): Device {
    let user = this.devices.get(userId);
    if (!user) this.devices.set(userId, (user = new Map()));
    let d = user.get(deviceId);
    if (!d) user.set(deviceId, (d = { oneTimeKeys: new Map(), fallback: new Map() }));
    return d;
  }

  /** POST /keys/upload for (userId, deviceId). */
  upload(userId: string, deviceId: string, body: any): { one_time_key_counts: Record<string, number> } {
    const d = this.device(userId, deviceId);
    if (body?.device_keys) {
      const k = body.device_keys;
      if (k.user_id !== userId || k.device_id !== deviceId) throw new BadKeysRequest('device_keys must be for the authenticated user and device');
      d.keys = k;
      this.changedAt.set(userId, ++this.model.pos);
    }
    for (const [id, key] of Object.entries(body?.one_time_keys ?? {})) d.oneTimeKeys.set(id, key);
    for (const [id, key] of Object.entries(body?.fallback_keys ?? body?.['org.matrix.msc2732.fallback_keys'] ?? {})) {
      d.fallback.set(id.split(':')[0]!, { id, key, used: false });
    }
    this.model.onChange();
    return { one_time_key_counts: this.otkCounts(userId, deviceId) };
  }

  /** POST /keys/query. */
  query(body: any): any {
    const device_keys: Record<string, Record<string, any>> = {};
    for (const [userId, wanted] of Object.entries<string[]>(body?.device_keys ?? {})) {
      const out: Record<string, any> = {};
      for (const [id, d] of this.devices.get(userId) ?? []) {
        if (d.keys && (!wanted?.length || wanted.includes(id))) out[id] = d.keys;
      }
      device_keys[userId] = out;
    }
    return { device_keys, failures: {}, master_keys: {}, self_signing_keys: {}, user_signing_keys: {} };
  }

  /** POST /keys/claim: one one-time key per device, else its fallback key. */
  claim(body: any): any {
    const one_time_keys: Record<string, Record<string, Record<string, any>>> = {};
    for (const [userId, devices] of Object.entries<Record<string, string>>(body?.one_time_keys ?? {})) {
      for (const [deviceId, alg] of Object.entries(devices)) {
        const d = this.devices.get(userId)?.get(deviceId);
        if (!d) continue;
        let claimed: [string, any] | undefined;
        for (const [id, key] of d.oneTimeKeys) {
          if (id.startsWith(`${alg}:`)) {
            claimed = [id, key];
            d.oneTimeKeys.delete(id);
            break;
          }
        }
        const fb = d.fallback.get(alg);
        if (!claimed && fb) {
          fb.used = true;
          claimed = [fb.id, fb.key];
        }
        if (claimed) ((one_time_keys[userId] ??= {})[deviceId] ??= {})[claimed[0]] = claimed[1];
      }
    }
    return { one_time_keys, failures: {} };
  }

  /** PUT /sendToDevice: `messages` is { user: { device or "*": content } }. */
  send(sender: string, type: string, messages: any): void {
    for (const [userId, byDevice] of Object.entries<Record<string, any>>(messages ?? {})) {
      for (const [deviceId, content] of Object.entries(byDevice ?? {})) {
        const targets = deviceId === '*' ? [...(this.devices.get(userId)?.keys() ?? [])] : [deviceId];
        for (const t of targets) {
          const key = `${userId} ${t}`;
          const box = this.inboxes.get(key) ?? [];
          this.inboxes.set(key, box);
          box.push({ pos: ++this.model.pos, event: { sender, type, content } });
          this.toDeviceLog.push({ sender, type, to: userId, device: t, content });
        }
      }
    }
    this.model.onChange();
  }

  /** Takes every queued to-device event of a device (a test user's own "sync"). */
  drain(userId: string, deviceId: string): ToDeviceEvent[] {
    const key = `${userId} ${deviceId}`;
    const box = this.inboxes.get(key) ?? [];
    this.inboxes.delete(key);
    return box.map((b) => b.event);
  }

  otkCounts(userId: string, deviceId: string): Record<string, number> {
    const counts: Record<string, number> = { signed_curve25519: 0 };
    for (const id of this.devices.get(userId)?.get(deviceId)?.oneTimeKeys.keys() ?? []) {
      const alg = id.split(':')[0]!;
      counts[alg] = (counts[alg] ?? 0) + 1;
    }
    return counts;
  }

  /**
   * The E2EE fields of a /sync for (userId, deviceId) after stream position `since` (null: initial sync),
   * and whether anything in them is news. To-device events stay queued until a later `since` passes them.
   */
  syncPart(userId: string, deviceId: string, since: number | null, sharesRoom: (other: string) => boolean): { body: any; news: boolean } {
    const key = `${userId} ${deviceId}`;
    const box = (this.inboxes.get(key) ?? []).filter((b) => since === null || b.pos > since);
    if (since !== null) this.inboxes.set(key, box); // acknowledged up to `since`
    const changed = since === null ? [] : [...this.changedAt].filter(([u, pos]) => pos > since && (u === userId || sharesRoom(u))).map(([u]) => u);
    const unused = [...(this.devices.get(userId)?.get(deviceId)?.fallback ?? [])].filter(([, f]) => !f.used).map(([alg]) => alg);
    return {
      body: {
        to_device: { events: box.map((b) => b.event) },
        device_lists: { changed, left: [] },
        device_one_time_keys_count: this.otkCounts(userId, deviceId),
        device_unused_fallback_key_types: unused,
      },
      news: box.length > 0 || changed.length > 0,
    };
  }
}
