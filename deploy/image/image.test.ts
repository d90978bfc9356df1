/**
 * The Dockerfile stays in step with the code without building it (the build itself:
 * test/deploy/image.test.ts): its Node is package.json's, it copies every folder the CLI imports
 * from, and the .dockerignore lets each of them into the build context.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { test } from 'node:test';

const root = resolve(import.meta.dirname, '../..');
const dockerfile = readFileSync(resolve(root, 'deploy/image/Dockerfile'), 'utf8');
const dockerignore = readFileSync(resolve(root, '.dockerignore'), 'utf8').split('\n');

/** Every file the CLI imports, followed from cli/fedmesh.ts through relative imports. */
function importClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.[^'"]+)['"]/g)) {
      visit(resolve(dirname(file), m[1] ?? ''));
    }
  };
  visit(entry);
  return seen;
}

test('the image’s Node is the pinned one (package.json devDependencies.node)', () => {
  const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  const arg = /^ARG NODE_VERSION=(\S+)$/m.exec(dockerfile)?.[1];
  assert.equal(arg, pkg.devDependencies.node);
  assert.match(arg ?? '', /^24\./);
});

test('every folder the CLI imports from is copied into the image and let into the build context', () => {
  const files = importClosure(resolve(root, 'cli/fedmesh.ts'));
  const folders = new Set([...files].map((f) => relative(root, f).split('/')[0]));
  assert.ok(folders.has('gm') && folders.has('lc') && folders.has('mesh'));
  for (const folder of folders) {
    assert.match(dockerfile, new RegExp(`^COPY ${folder}/ ${folder}/$`, 'm'), `Dockerfile copies ${folder}/`);
    assert.ok(dockerignore.includes(`!${folder}/`), `.dockerignore lets ${folder}/ in`);
  }
  const shipped = [...files].map((f) => relative(root, f));
  assert.deepEqual(
    shipped.filter((f) => /\.test\.ts$|(^|\/)testing(\.ts|\/)|^test\//.test(f)),
    [],
    'the CLI imports no test code (the image drops it)',
  );
});

test('the runtime stage runs as a numeric non-root user, with the CLI as entrypoint, from a selectable base', () => {
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  assert.match(runtime, /^FROM \$\{BASE\}$/m);
  assert.doesNotMatch(runtime, /^RUN /m, 'the runtime stage only copies: an arm64 image builds without emulation');
  assert.match(runtime, /^USER 65532:65532$/m);
  assert.match(runtime, /^ENTRYPOINT \["\/usr\/local\/bin\/node", "\/opt\/fedmesh\/cli\/fedmesh\.ts"\]$/m);
  assert.match(dockerfile, /^FROM --platform=\$BUILDPLATFORM \$\{BUILDER\} AS build$/m);
  assert.match(dockerfile, /^ARG BASE=\S+$/m);
});
