/**
 * Discord's side of HTTP interactions: an application key pair, and interactions signed with it (Ed25519 over
 * timestamp + body, in `X-Signature-Ed25519` / `X-Signature-Timestamp`) POSTed to an endpoint URL, as Discord
 * does when the application has an Interactions Endpoint URL.
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

export interface AppKeys {
  privateKey: KeyObject;
  /** The public key as the Developer Portal shows it (64 hex digits): DISCORD_PUBLIC_KEY. */
  publicKeyHex: string;
}

export function appKeys(): AppKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const x = publicKey.export({ format: 'jwk' }).x!;
  return { privateKey, publicKeyHex: Buffer.from(x, 'base64url').toString('hex') };
}

const snowflake = () => ((BigInt(Date.now() - 1420070400000) << 22n) | BigInt(randomBytes(2).readUInt16BE() & 0x3fffff)).toString();

/** An interaction payload as Discord sends it (type 1 PING, 2 command, 4 autocomplete) in a guild channel. */
export function interaction(o: {
  type: 1 | 2 | 4;
  name?: string;
  options?: unknown[];
  applicationId?: string;
  channelId?: string;
  userId?: string;
  permissions?: string;
}) {
  return {
    id: snowflake(),
    application_id: o.applicationId ?? '100000000000000001',
    type: o.type,
    token: `tok-${randomBytes(24).toString('hex')}`,
    version: 1,
    ...(o.type === 1
      ? {}
      : {
          data: { id: snowflake(), name: o.name, type: 1, options: o.options ?? [] },
          guild_id: '100000000000000002',
          channel_id: o.channelId ?? '100000000000000003',
          member: { user: { id: o.userId ?? '100000000000000004', username: 'alice' }, permissions: o.permissions ?? '1024', roles: [] },
        }),
  };
}

/** POSTs `body` signed with `keys` (or with a bad signature / given timestamp) and returns status and JSON. */
export async function postInteraction(
  url: string,
  body: unknown,
  keys: AppKeys,
  o: { timestamp?: number; tamper?: boolean } = {},
): Promise<{ status: number; json: any }> {
  const raw = JSON.stringify(body);
  const ts = String(o.timestamp ?? Math.floor(Date.now() / 1000));
  const sig = sign(null, Buffer.from(ts + raw), keys.privateKey);
  if (o.tamper) sig[0] = sig[0]! ^ 0xff;
  const res = await fetch(`${url}/interactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature-ed25519': sig.toString('hex'), 'x-signature-timestamp': ts },
    body: raw,
  });
  return { status: res.status, json: await res.json() };
}
