/**
 * Starts the fake Discord server and the fake Matrix homeserver on loopback
 * for the image test, prints their coordinates as one JSON line, and runs
 * until SIGTERM.
 */
import { startFakeDiscord } from '../fakes/discord/server.js';
import { startFakeMatrix } from '../fakes/matrix/server.js';

const discord = await startFakeDiscord();
const matrix = await startFakeMatrix();
process.stdout.write(
  `${JSON.stringify({ discordApiUrl: discord.apiUrl, discordToken: discord.token, matrixUrl: matrix.url, matrixToken: matrix.accessToken })}\n`,
);
const stop = async () => {
  await Promise.allSettled([discord.close(), matrix.close()]);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
