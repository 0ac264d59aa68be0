import assert from 'node:assert/strict';
import { once } from 'node:events';
import { AttachmentBuilder, Client, DiscordAPIError, Events, GatewayIntentBits, MessageFlags, Partials, SlashCommandBuilder } from 'discord.js';
import { startFakeDiscord } from './server.js';

const fake = await startFakeDiscord();
const client = new Client({ intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages], partials: [Partials.Channel], rest: { api: fake.apiUrl } });
const seen: any[] = [];
client.on(Events.MessageCreate, (m) => seen.push({ content: m.content, bot: m.author.bot, id: m.id }));
const ready = once(client, Events.ClientReady);
await client.login(fake.token);
await ready;
console.log('guild cached', client.guilds.cache.get(fake.guildId)?.name, client.channels.cache.size);

// commands
const cmds = await client.application!.commands.set([new SlashCommandBuilder().setName('ask').setDescription('Ask').addStringOption(o => o.setName('q').setDescription('q').setRequired(true).setAutocomplete(true)).toJSON()]);
console.log('global cmds', cmds.size, fake.globalCommands.map(c => c.name));
const g = client.guilds.cache.get(fake.guildId)!;
await g.commands.set([{ name: 'gcmd', description: 'guild cmd' }]);
console.log('guild cmds', fake.guildCommands.get(fake.guildId)?.map(c => c.name));
await assert.rejects(client.application!.commands.set([{ name: 'Bad Name', description: 'x' }]), (e: any) => { console.log('bad cmd ->', e.code, e.message.split('\n')[0]); return e.code === 50035; });

// interactions: deferred + edit + followup + ephemeral
client.on(Events.InteractionCreate, async (i) => {
  if (i.isAutocomplete()) { await i.respond([{ name: 'a', value: 'a' }]); return; }
  if (!i.isChatInputCommand()) return;
  if (i.commandName === 'ask') {
    await i.deferReply();
    await i.editReply(`answer to ${i.options.getString('q')}`);
    await i.followUp({ content: 'secret', flags: MessageFlags.Ephemeral });
    const r = await i.fetchReply();
    console.log('fetchReply', r.content, 'channel', i.channelId);
  } else if (i.commandName === 'late') {
    await new Promise(r => setTimeout(r, 3300));
    await i.reply('too late').catch((e) => console.log('late ->', e.code));
  } else if (i.commandName === 'wr') {
    const res = await i.reply({ content: 'with resp', withResponse: true });
    console.log('withResponse message', res.resource?.message?.content);
    await i.deleteReply();
  } else if (i.commandName === 'file') {
    await i.reply({ content: 'file', files: [new AttachmentBuilder(Buffer.from('hello'), { name: 'a.txt' })] });
  }
});
const ac = fake.sendInteraction({ type: 4, commandName: 'ask', options: [{ name: 'q', type: 3, value: 'ke', focused: true }] });
console.log('autocomplete cb', JSON.stringify((await ac.callback).body));
const a = fake.sendInteraction({ commandName: 'ask', options: [{ name: 'q', type: 3, value: 'kernel' }] });
await a.callback;
await fake.waitForRequest(r => r.method === 'POST' && r.path.startsWith(`/webhooks/${fake.applicationId}/`));
await new Promise(r => setTimeout(r, 100));
console.log('general msgs', fake.channelMessages(fake.channelIds.general).map(m => [m.content, m.flags, m.type]));
const wr = fake.sendInteraction({ commandName: 'wr' });
await wr.callback; await fake.waitForRequest(r => r.method === 'DELETE' && r.path.includes(wr.token));
const f = fake.sendInteraction({ commandName: 'file', dm: true });
const fr = await f.callback;
console.log('file cb', fr.files, fr.body.data.attachments, fake.channelMessages(fake.dmChannelId(fake.users.default.id)).map(m => m.attachments.length));
const late = fake.sendInteraction({ commandName: 'late' });
console.log('late status', (await late.callback).status);

// failures
const ch = client.channels.cache.get(fake.channelIds.other) as any;
fake.failChannelPosts(fake.channelIds.other, 429, 2);
let t = Date.now(); await ch.send('after 429'); console.log('429 x2 then ok in', Date.now() - t, 'ms');
fake.failChannelPosts(fake.channelIds.other, 500, 1);
t = Date.now(); await ch.send('after 500'); console.log('500 x1 then ok in', Date.now() - t, 'ms');
fake.failChannelPosts(fake.channelIds.other, 403, Infinity);
await ch.send('x').catch((e: any) => console.log('403 ->', e instanceof DiscordAPIError, e.code, e.status));
fake.failChannelPosts(fake.channelIds.other, 403, 0);
await ch.send('').catch((e: any) => console.log('empty ->', e.code));
await ch.send('x'.repeat(2001)).catch((e: any) => console.log('long ->', e.code, JSON.stringify(e.rawError.errors)));

// content intent blanking + echo
seen.length = 0;
fake.sendUserMessage({ content: '!ask something' });
fake.sendUserMessage({ content: 'hey bot', mentionsBot: true });
const m = await ch.send('echo me');
await m.edit('edited');
await new Promise(r => setTimeout(r, 200));
console.log('seen', JSON.stringify(seen));
const dm = await client.users.createDM(fake.users.default.id);
console.log('createDM', dm.id === fake.dmChannelId(fake.users.default.id));

// fresh identify
t = Date.now();
const before = fake.readyCount;
fake.dropGateway({ resumable: false });
await fake.waitForReady(before + 1);
console.log('re-identify ready after', Date.now() - t, 'ms; ops', fake.gatewayReceived.filter(p => p.op === 2 || p.op === 6).map(p => p.op));
await client.destroy();
await fake.close();
console.log('done');
