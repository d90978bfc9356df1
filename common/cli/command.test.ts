import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from '../duration.ts';
import { type CommandSpec, command, HelpRequested, resolve } from './command.ts';

const root: CommandSpec = {
  name: 'fedmesh',
  summary: 'test root',
  subcommands: [
    {
      name: 'gm',
      summary: 'global manager',
      flags: {
        'lease-duration': { description: 'lease', default: '15s', parse: parseDuration },
        readyz: {
          description: 'mode',
          default: 'leader',
          parse: (v) => {
            if (v !== 'leader' && v !== 'replica') throw new Error('expected leader or replica');
            return v;
          },
        },
        verbose: { description: 'more logs', type: 'boolean' },
      },
      run: async () => 0,
    },
  ],
};

test('flags are parsed and defaults applied', () => {
  const { ctx } = resolve(root, ['gm', '--lease-duration', '2s']);
  assert.deepEqual(ctx.flags, { 'lease-duration': 2000, readyz: 'leader', verbose: false });
  assert.equal(ctx.path, 'fedmesh gm');
});

const errors: Array<{ name: string; argv: string[] }> = [
  { name: 'unknown command', argv: ['nope'] },
  { name: 'unknown flag', argv: ['gm', '--lease-durration', '2s'] },
  { name: 'missing value', argv: ['gm', '--lease-duration'] },
  { name: 'bad duration', argv: ['gm', '--lease-duration', 'soon'] },
  { name: 'bad enum', argv: ['gm', '--readyz', 'always'] },
  { name: 'unexpected positional', argv: ['gm', 'extra'] },
];
for (const c of errors) {
  test(`refused: ${c.name}`, () =>
    assert.throws(() => resolve(root, c.argv), { name: 'ConfigError', code: 'ERR_CONFIG' }));
}

test('--help on every level', () => {
  for (const argv of [[], ['--help'], ['gm', '--help'], ['gm', '-h']]) {
    assert.throws(
      () => resolve(root, argv),
      (err: unknown) => err instanceof HelpRequested && err.text.includes('Usage'),
    );
  }
});

test('command(): run sees each flag typed from its spec; a required flag that is missing is an error', async () => {
  let seen: unknown;
  const leaf = command({
    name: 'x',
    summary: 'typed',
    flags: {
      n: { description: 'a number', default: '3', parse: (v) => Number(v) },
      dir: { description: 'where', required: true },
      opt: { description: 'optional' },
      on: { description: 'switch', type: 'boolean' },
      many: { description: 'list', multiple: true, parse: (v) => v.length },
    },
    async run({ flags }) {
      // Compile-time checks: these assignments fail `tsc` if the derived types drift.
      const n: number = flags.n;
      const dir: string = flags.dir;
      const opt: string | undefined = flags.opt;
      const on: boolean = flags.on;
      const many: number[] | undefined = flags.many;
      seen = { n, dir, opt, on, many };
      return 0;
    },
  });
  const tree: CommandSpec = { name: 'fedmesh', summary: 't', subcommands: [leaf] };
  const { cmd, ctx } = resolve(tree, ['x', '--dir', '/d', '--many', 'ab', '--many', 'abc']);
  await cmd.run?.(ctx);
  assert.deepEqual(seen, { n: 3, dir: '/d', opt: undefined, on: false, many: [2, 3] });
  assert.throws(
    () => resolve(tree, ['x']),
    (err: Error) => err.name === 'ConfigError' && /--dir is required/.test(err.message),
  );
});
