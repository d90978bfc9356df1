/**
 * Repository structure rules (issue 13), checked on every TypeScript file in the working tree
 * (tracked, or new and not ignored, so a new file fails before it is committed):
 *
 * - Shipped code never imports test code. Shipped = every `.ts` file outside `test/` and `bench/`
 *   that is not a `*.test.ts` file; tests next to the code may use the helpers under `test/`.
 * - No file is over MAX_LINES lines unless it is on ALLOWED_LONG_FILES with its reason.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..');
const THIS_FILE = 'common/structure.test.ts';

/** The conventions call files over ~400 lines a smell: split by responsibility, not by size. */
const MAX_LINES = 400;

/** Files allowed over MAX_LINES, each with why. Keep it short; an entry goes when its file shrinks. */
const ALLOWED_LONG_FILES: Record<string, string> = {};

/** Repository-relative paths of the `.ts` files in the working tree, `/`-separated. */
function sourceFiles(): string[] {
  let out: string;
  try {
    out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', '*.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    throw new Error('the structure checks list files with git: run them in a git checkout', { cause: err });
  }
  // A file deleted in the working tree (moved, not yet committed) is still listed by --cached.
  return [...new Set(out.split('\0').filter(Boolean))].filter((f) => existsSync(join(ROOT, f))).sort();
}

function isShipped(file: string): boolean {
  return !/^(test|bench)\//.test(file) && !file.endsWith('.test.ts');
}

/** Module specifiers of static imports and re-exports, side-effect imports and dynamic imports. */
function importSpecifiers(source: string): string[] {
  const patterns = [
    /\bfrom\s*(['"])([^'"\n]+)\1/g,
    /\bimport\s*(['"])([^'"\n]+)\1/g,
    /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*[,)]/g,
  ];
  return patterns.flatMap((re) => [...source.matchAll(re)].map((m) => m[2] as string));
}

/** The repository path a relative specifier of `file` points at; undefined for packages and builtins. */
function resolveSpecifier(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return undefined;
  return posix.normalize(posix.join(posix.dirname(file), specifier));
}

function lineCount(text: string): number {
  if (text === '') return 0;
  const newlines = text.split('\n').length - 1;
  return text.endsWith('\n') ? newlines : newlines + 1;
}

const specifierCases: Array<{ name: string; source: string; want: string[] }> = [
  { name: 'named import', source: "import { a } from '../x.ts';", want: ['../x.ts'] },
  { name: 'type import', source: "import type { A } from './a.ts';", want: ['./a.ts'] },
  { name: 'default import, double quotes', source: 'import a from "../a.ts";', want: ['../a.ts'] },
  { name: 'multi-line import', source: "import {\n  a,\n  b,\n} from '../../t/a.ts';", want: ['../../t/a.ts'] },
  { name: 're-export', source: "export { a } from './a.ts';\nexport * from './b.ts';", want: ['./a.ts', './b.ts'] },
  { name: 'side-effect import', source: "import '../setup.ts';", want: ['../setup.ts'] },
  { name: 'dynamic import', source: "const m = await import('../a.ts');", want: ['../a.ts'] },
  {
    name: 'builtin and package',
    source: "import { test } from 'node:test';\nimport 'pino';",
    want: ['node:test', 'pino'],
  },
];
for (const c of specifierCases) {
  test(`importSpecifiers: ${c.name}`, () => assert.deepEqual(importSpecifiers(c.source).sort(), c.want.sort()));
}

const resolveCases: Array<{ name: string; file: string; specifier: string; want: string | undefined }> = [
  { name: 'sibling', file: 'cli/sandbox.ts', specifier: './fedmesh.ts', want: 'cli/fedmesh.ts' },
  { name: 'into test/', file: 'cli/sandbox.ts', specifier: '../test/envtest/index.ts', want: 'test/envtest/index.ts' },
  {
    name: 'into test/ from deeper',
    file: 'deploy/keepalived/testing/netns.ts',
    specifier: '../../../test/harness/cleanup.ts',
    want: 'test/harness/cleanup.ts',
  },
  { name: 'a folder named like test elsewhere', file: 'gm/a.ts', specifier: './test/x.ts', want: 'gm/test/x.ts' },
  { name: 'builtin', file: 'cli/sandbox.ts', specifier: 'node:test', want: undefined },
  { name: 'package', file: 'cli/sandbox.ts', specifier: '@kubernetes/client-node', want: undefined },
];
for (const c of resolveCases) {
  test(`resolveSpecifier: ${c.name}`, () => assert.equal(resolveSpecifier(c.file, c.specifier), c.want));
}

test('no shipped file imports from test/', () => {
  const files = sourceFiles();
  assert.ok(files.includes(THIS_FILE), `git listed no files under ${ROOT}`);
  const violations: string[] = [];
  for (const file of files.filter(isShipped)) {
    for (const spec of importSpecifiers(readFileSync(join(ROOT, file), 'utf8'))) {
      const target = resolveSpecifier(file, spec);
      if (target?.startsWith('test/')) violations.push(`${file} imports ${spec} (${target})`);
    }
  }
  assert.deepEqual(
    violations,
    [],
    `shipped code must not import test code; move what it needs out of test/ (see controlplane/, netlab/, common/process/):\n  ${violations.join('\n  ')}`,
  );
});

test(`no source file is over ${MAX_LINES} lines unless allowed with a reason`, () => {
  const over: string[] = [];
  for (const file of sourceFiles()) {
    const lines = lineCount(readFileSync(join(ROOT, file), 'utf8'));
    if (lines > MAX_LINES && !(file in ALLOWED_LONG_FILES)) over.push(`${file} has ${lines} lines`);
  }
  assert.deepEqual(
    over,
    [],
    `files over ${MAX_LINES} lines: split them by responsibility (or, with a reason, add them to ALLOWED_LONG_FILES in ${THIS_FILE}):\n  ${over.join('\n  ')}`,
  );
});

test('every ALLOWED_LONG_FILES entry is still a file over the limit, with a reason', () => {
  const stale: string[] = [];
  for (const [file, reason] of Object.entries(ALLOWED_LONG_FILES)) {
    const path = join(ROOT, file);
    if (!reason.trim()) stale.push(`${file} has no reason`);
    else if (!existsSync(path)) stale.push(`${file} no longer exists`);
    else {
      const lines = lineCount(readFileSync(path, 'utf8'));
      if (lines <= MAX_LINES) stale.push(`${file} has ${lines} lines now`);
    }
  }
  assert.deepEqual(stale, [], `remove these from ALLOWED_LONG_FILES in ${THIS_FILE}:\n  ${stale.join('\n  ')}`);
});

/** Folders whose index.ts is their only door: code elsewhere imports nothing else inside them. */
const FACES = ['gm/election/'];

test('folders with a face are entered through their index.ts only', () => {
  const violations: string[] = [];
  for (const file of sourceFiles()) {
    for (const spec of importSpecifiers(readFileSync(join(ROOT, file), 'utf8'))) {
      const target = resolveSpecifier(file, spec);
      for (const face of FACES) {
        if (file.startsWith(face) || !target?.startsWith(face)) continue;
        if (target !== `${face}index.ts`) violations.push(`${file} imports ${spec}`);
      }
    }
  }
  assert.deepEqual(violations, [], `import these through their index.ts:\n  ${violations.join('\n  ')}`);
});
