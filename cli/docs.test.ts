import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PARTS, regenerate } from './docs.ts';

const root = join(import.meta.dirname, '..');

for (const file of Object.keys(PARTS)) {
  test(`${file}: the generated flag tables match the commands (npm run docs rewrites them)`, async () => {
    const text = readFileSync(join(root, file), 'utf8');
    assert.equal(await regenerate(file, text), text, `${file} is stale: run 'npm run docs'`);
  });
}
