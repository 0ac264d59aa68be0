/**
 * A Matrix user with a real E2EE device for the end-to-end tests: an OlmMachine of the wasm binding (in
 * memory) that uploads its keys to the fake homeserver, claims a session with the bot's device, shares its
 * Megolm key and encrypts questions, and decrypts what the bot sends. Its "client" is the test: requests go
 * straight to the fake's key server instead of over HTTP.
 */
import { createRequire } from 'node:module';
import type * as Wasm from '@matrix-org/matrix-sdk-crypto-wasm';
import type { FakeMatrix } from '../fakes/matrix/server.js';

// The same (CommonJS) instance of the binding that the bot's shim loads: one wasm module in the process.
const wasm = createRequire(import.meta.url)('@matrix-org/matrix-sdk-crypto-wasm') as typeof Wasm;

const users = (ids: string[]) => ids.map((u) => new wasm.UserId(u));

export class TestDevice {
  private constructor(
    private readonly fake: FakeMatrix,
    readonly machine: Wasm.OlmMachine,
    readonly userId: string,
    readonly deviceId: string,
  ) {}

  /** A new device for `userId`, keys uploaded. */
  static async create(fake: FakeMatrix, userId: string, deviceId = 'TESTDEVICE'): Promise<TestDevice> {
    const machine = await wasm.OlmMachine.initialize(new wasm.UserId(userId), new wasm.DeviceId(deviceId));
    const d = new TestDevice(fake, machine, userId, deviceId);
    await d.flush();
    return d;
  }

  /** Answers the machine's outgoing requests (key upload/query/claim, to-device) until none are left. */
  async flush(): Promise<void> {
    for (let round = 0; round < 10; round++) {
      const reqs = await this.machine.outgoingRequests();
      if (!reqs.length) return;
      for (const r of reqs) await this.answer(r as { id: string; type: Wasm.RequestType; body: string; event_type?: string });
    }
  }

  private async answer(r: { id?: string; type: Wasm.RequestType; body: string; event_type?: string }): Promise<void> {
    const body = JSON.parse(r.body);
    const keys = this.fake.keys;
    let response: unknown;
    switch (r.type) {
      case wasm.RequestType.KeysUpload:
        response = keys.upload(this.userId, this.deviceId, body);
        break;
      case wasm.RequestType.KeysQuery:
        response = keys.query(body);
        break;
      case wasm.RequestType.KeysClaim:
        response = keys.claim(body);
        break;
      case wasm.RequestType.ToDevice:
        keys.send(this.userId, r.event_type!, body.messages);
        response = {};
        break;
      case wasm.RequestType.SignatureUpload:
        response = { failures: {} };
        break;
      default:
        throw new Error(`test device: unexpected request type ${r.type}`);
    }
    if (r.id) await this.machine.markRequestAsSent(r.id, r.type, JSON.stringify(response));
  }

  /** What a /sync would bring the device: its to-device messages (room keys), key counts, changed device lists. */
  async sync(changed: string[] = []): Promise<void> {
    const events = this.fake.keys.drain(this.userId, this.deviceId);
    const counts = new Map(Object.entries(this.fake.keys.otkCounts(this.userId, this.deviceId)));
    await this.machine.receiveSyncChanges(JSON.stringify(events), new wasm.DeviceLists(users(changed), []), counts, new Set(['signed_curve25519']));
    await this.flush();
  }

  /**
   * Encrypts `content` for the room's joined members (Olm sessions claimed and the Megolm key shared as a
   * client does, unless `withholdKey`) and stores it as an m.room.encrypted event; returns its event id.
   */
  async send(roomId: string, content: object, o: { withholdKey?: boolean } = {}): Promise<string> {
    const encrypted = await this.encrypt(roomId, content, o);
    return this.fake.sendEvent(roomId, { sender: this.userId, type: 'm.room.encrypted', content: encrypted });
  }

  /** The m.room.encrypted content for `content` (keys shared as in {@link send}), not yet sent. */
  async encrypt(roomId: string, content: object, o: { withholdKey?: boolean } = {}): Promise<object> {
    const members = this.fake.joinedMembers(roomId);
    await this.machine.updateTrackedUsers(users(members));
    await this.flush();
    const claim = await this.machine.getMissingSessions(users(members));
    if (claim) await this.answer(claim);
    const settings = new wasm.EncryptionSettings();
    const shares = await this.machine.shareRoomKey(new wasm.RoomId(roomId), users(members), settings);
    if (!o.withholdKey) for (const r of shares) await this.answer(r);
    return JSON.parse(await this.machine.encryptRoomEvent(new wasm.RoomId(roomId), 'm.room.message', JSON.stringify(content)));
  }

  /** An encrypted m.text; `mention` adds the bot to m.mentions. */
  sendText(roomId: string, body: string, o: { mention?: string; withholdKey?: boolean } = {}): Promise<string> {
    const content: Record<string, unknown> = { msgtype: 'm.text', body };
    if (o.mention) content['m.mentions'] = { user_ids: [o.mention] };
    return this.send(roomId, content, o);
  }

  /** Decrypts an event of the room's timeline (after taking the room keys sent to this device). */
  async decrypt(roomId: string, eventId: string): Promise<{ type: string; content: any }> {
    await this.sync();
    const ev = this.fake.timeline(roomId).find((e) => e.event_id === eventId);
    if (!ev) throw new Error(`test device: no event ${eventId} in ${roomId}`);
    const settings = new wasm.DecryptionSettings(wasm.TrustRequirement.Untrusted);
    const res = await this.machine.decryptRoomEvent(JSON.stringify(ev), new wasm.RoomId(roomId), settings);
    return JSON.parse(res.event);
  }

  close(): void {
    this.machine.close();
  }
}
