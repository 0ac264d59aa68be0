import { once } from 'node:events';
import { Client, Events, GatewayIntentBits, Partials } from 'discord.js';
import { startFakeDiscord } from './server.js';
const fake = await startFakeDiscord();
const client = new Client({ intents: [GatewayIntentBits.Guilds], partials: [Partials.Channel], rest: { api: fake.apiUrl } });
client.on(Events.Debug, (m) => console.log('DBG', Date.now() % 100000, m.slice(0, 150).replace(/\n/g, ' | ')));
const ready = once(client, Events.ClientReady);
await client.login(fake.token); await ready;
const mode = process.argv[2];
if (mode === 'fresh') { fake.dropGateway({ resumable: false }); await fake.waitForReady(2); }
if (mode === 'resume') { fake.dropGateway(); await fake.waitForReady(2); }
if (mode === 'dropdestroy') { fake.dropGateway(); await new Promise(r => setTimeout(r, Number(process.argv[3] ?? 0))); }
console.log('--- destroying');
await client.destroy();
console.log('--- destroyed');
await fake.close();
console.log('done');
