import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseYamlOrJson } from './config-text.ts';

test('config text: JSON, YAML, empty, and a clear error naming the source', async () => {
  assert.deepEqual(await parseYamlOrJson('{"a":1}', 'f'), { a: 1 });
  assert.deepEqual(await parseYamlOrJson('a: 1\nb: [x]\n', 'f'), { a: 1, b: ['x'] });
  assert.equal(await parseYamlOrJson('  \n', 'f'), undefined);
  await assert.rejects(parseYamlOrJson('a: [1, 2', 'mesh.yaml'), (err: Error) => {
    assert.equal(err.name, 'ConfigError');
    assert.match(err.message, /^mesh\.yaml: not valid YAML or JSON/);
    return true;
  });
});
