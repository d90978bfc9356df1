import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseForward } from './forward.ts';

test('forward specs parse; bad ones are ConfigErrors', () => {
  const cases = [
    {
      text: '8022=edge-b1:127.0.0.1:22',
      want: { listenHost: '127.0.0.1', listenPort: 8022, node: 'edge-b1', host: '127.0.0.1', port: 22 },
    },
    {
      text: '0.0.0.0:8080=b1:10.0.0.5:80',
      want: { listenHost: '0.0.0.0', listenPort: 8080, node: 'b1', host: '10.0.0.5', port: 80 },
    },
    {
      text: '[::1]:9000=b1:[::1]:9000',
      want: { listenHost: '::1', listenPort: 9000, node: 'b1', host: '::1', port: 9000 },
    },
  ];
  for (const c of cases) assert.deepEqual(parseForward(c.text), c.want, c.text);
  assert.deepEqual(parseForward('127.0.0.1:19000=@fedmesh-gm'), {
    listenHost: '127.0.0.1',
    listenPort: 19000,
    service: 'fedmesh-gm',
  });
  assert.deepEqual(parseForward('19000=@gm'), { listenHost: '127.0.0.1', listenPort: 19000, service: 'gm' });
  for (const bad of [
    '8022',
    '8022=b1:22',
    '8022=B_1:127.0.0.1:22',
    '8022=b1:127.0.0.1:0',
    '99999=b1:127.0.0.1:22',
    '19000=@',
    '19000=@Fedmesh_GM',
    '99999=@gm',
    `19000=@${'a'.repeat(64)}`,
  ]) {
    assert.throws(() => parseForward(bad), { code: 'ERR_CONFIG' }, bad);
  }
});
