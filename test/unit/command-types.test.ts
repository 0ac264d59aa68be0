import { describe, expect, expectTypeOf, it } from 'vitest';
import { defineCommand } from '../../src/core/command.js';
import type { ArgumentsOf } from '../../src/core/command.js';

// `npm run typecheck` checks this file: a wrong name or type below fails the build, not only this test.
describe('typed arguments from the definition', () => {
  it('GIVEN options THEN the handler sees required, optional, number, boolean and choice types by name', () => {
    const def = defineCommand({
      name: 'typed',
      description: 'd',
      examples: [],
      options: [
        { name: 'topic', description: 'd', type: 'string', required: true },
        { name: 'count', description: 'd', type: 'integer' },
        { name: 'loud', description: 'd', type: 'boolean' },
        { name: 'mode', description: 'd', type: 'string', required: true, choices: ['rotate', 'board'] },
      ],
      run(_ctx, args) {
        expectTypeOf(args.topic).toEqualTypeOf<string>();
        expectTypeOf(args.count).toEqualTypeOf<number | undefined>();
        expectTypeOf(args.loud).toEqualTypeOf<boolean | undefined>();
        expectTypeOf(args.mode).toEqualTypeOf<'rotate' | 'board'>();
        // @ts-expect-error: no option of that name
        void args.topics;
        return { kind: 'info', summary: `${args.topic} ${args.mode}` };
      },
    });
    expect(def.name).toBe('typed');
  });

  it('GIVEN subcommands THEN each variant has its own options, told apart by subcommand', () => {
    type A = ArgumentsOf<
      readonly [],
      readonly [
        { name: 'add'; description: ''; options: readonly [{ name: 'id'; description: ''; type: 'string'; required: true }] },
        { name: 'list'; description: '' },
      ]
    >;
    expectTypeOf<Extract<A, { subcommand: 'add' }>['id']>().toEqualTypeOf<string>();
    // @ts-expect-error: "list" has no id
    expectTypeOf<Extract<A, { subcommand: 'list' }>['id']>().toBeString();
    expectTypeOf<A['subcommand']>().toEqualTypeOf<'add' | 'list'>();
  });
});
