/**
 * The layering rules (README, Architecture). `npm test` runs `npm run deps`; a violation fails with the rule's name.
 *   knowledge ← core ← commands, digest ← adapters, ops ← app (composition root) ← runtime, cli, main
 */
const SDKS = '(^|/)node_modules/(discord\\.js|@discordjs|matrix-bot-sdk|@matrix-org)/';
const ABOVE_CORE = '^(src/(digest|adapters|ops|cli)/|src/(app|runtime|main|main-errors)\\.ts$|commands/)';

module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'Dependencies point one way.', from: {}, to: { circular: true } },
    {
      name: 'core-knows-no-feature',
      severity: 'error',
      comment: 'src/core is the platform-neutral bot: it names no feature, adapter, entry point or chat SDK.',
      from: { path: '^src/core/' },
      to: { path: [ABOVE_CORE, SDKS] },
    },
    {
      name: 'commands-know-no-platform',
      severity: 'error',
      comment: 'commands/ return replies as data: no adapter, no chat SDK, no composition root.',
      from: { path: '^commands/' },
      to: { path: ['^src/(adapters|ops|cli)/', '^src/(app|runtime|main)\\.ts$', SDKS] },
    },
    {
      name: 'digest-knows-no-adapter',
      severity: 'error',
      comment: 'The digest feature owns its port (src/digest/port.ts); adapters implement it, never the other way round.',
      from: { path: '^src/digest/' },
      to: { path: ['^src/(adapters|ops|cli)/', '^src/(app|runtime|main)\\.ts$', '^commands/', SDKS] },
    },
    {
      name: 'knowledge-is-the-bottom',
      severity: 'error',
      comment: 'src/knowledge (loading, schema, search) depends on nothing of ours above it.',
      from: { path: '^src/knowledge/' },
      to: { path: ['^src/(core|digest|adapters|ops|cli)/', '^src/(app|runtime|main|main-errors)\\.ts$', '^commands/', SDKS] },
    },
    {
      name: 'only-adapters-import-sdks',
      severity: 'error',
      comment: 'discord.js and matrix-bot-sdk live behind src/adapters (and the CLI that registers commands).',
      from: { path: '^(src|commands)/', pathNot: '^src/(adapters|vendor)/' },
      to: { path: SDKS },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|dist-bench)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.d.ts'] },
  },
};
