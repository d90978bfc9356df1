import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generatePsk, parsePsk, pskFingerprint } from './psk.ts';

const KEY = 'dffb7e3135399a8b1612b2aaca1c36a3a8ac2cd0cca51ceeb2ced87d308cac6d';

test('psk: v1 swarm keys parse to the canonical form', () => {
  const cases = [
    { name: 'plain', text: `/key/swarm/psk/1.0.0/\n/base16/\n${KEY}` },
    { name: 'trailing newline', text: `/key/swarm/psk/1.0.0/\n/base16/\n${KEY}\n` },
    { name: 'CRLF and upper case', text: `/key/swarm/psk/1.0.0/\r\n/base16/\r\n${KEY.toUpperCase()}\r\n` },
  ];
  for (const c of cases) {
    assert.equal(new TextDecoder().decode(parsePsk(c.text)), `/key/swarm/psk/1.0.0/\n/base16/\n${KEY}`, c.name);
  }
});

test('psk: anything else is ERR_PSK_FILE', () => {
  const cases = [
    { name: 'empty', text: '' },
    { name: 'any string (EdgeMesh style)', text: 'my-secret' },
    { name: 'base64', text: `/key/swarm/psk/1.0.0/\n/base64/\n${Buffer.from(KEY, 'hex').toString('base64')}` },
    { name: 'short key', text: `/key/swarm/psk/1.0.0/\n/base16/\n${KEY.slice(2)}` },
    { name: 'trailing text', text: `/key/swarm/psk/1.0.0/\n/base16/\n${KEY}\nmore` },
  ];
  for (const c of cases) assert.throws(() => parsePsk(c.text), { code: 'ERR_PSK_FILE' }, c.name);
});

test('psk: generated keys parse and differ; the fingerprint hides the key', () => {
  const a = parsePsk(generatePsk());
  const b = parsePsk(generatePsk());
  assert.notDeepEqual(a, b);
  assert.match(pskFingerprint(a), /^[0-9a-f]{8}$/);
  assert.ok(!new TextDecoder().decode(a).includes(pskFingerprint(a)));
});
