import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTargetPolicy } from './targets.ts';

test('targets: loopback only by default', () => {
  const p = createTargetPolicy();
  const cases: Array<[string, number, boolean]> = [
    ['127.0.0.1', 80, true],
    ['127.9.9.9', 65535, true],
    ['::1', 22, true],
    ['198.18.0.1', 80, false],
    ['10.0.0.1', 80, false],
    ['localhost', 80, false],
    ['127.0.0.1', 0, false],
    ['127.0.0.1', 70000, false],
  ];
  for (const [host, port, want] of cases) assert.equal(p.allows(host, port), want, `${host}:${port}`);
});

test('targets: CIDR and port rules', () => {
  const p = createTargetPolicy(['10.244.0.0/16:8000-8999', '198.18.5.5:443', '[fd00::/8]']);
  const cases: Array<[string, number, boolean]> = [
    ['10.244.3.4', 8080, true],
    ['10.244.3.4', 9000, false],
    ['10.245.0.1', 8080, false],
    ['198.18.5.5', 443, true],
    ['198.18.5.5', 80, false],
    ['fd12::1', 80, true],
    ['127.0.0.1', 80, false],
  ];
  for (const [host, port, want] of cases) assert.equal(p.allows(host, port), want, `${host}:${port}`);
});

test('targets: bad rules are ConfigErrors', () => {
  for (const rule of ['example.com', '10.0.0.0/33', '10.0.0.1:0', '10.0.0.1:90-80', '[::1/129]', 'x:y']) {
    assert.throws(() => createTargetPolicy([rule]), { code: 'ERR_CONFIG' }, rule);
  }
});
