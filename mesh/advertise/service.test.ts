import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTargetPolicy } from '../tunnel/targets.ts';
import { advertisedRules, parseAdvertise, resolveAdvertised, serviceKey } from './service.ts';

test('advertise: flag syntax, defaults and bad input', () => {
  const cases = [
    { name: 'port only', text: 'fedmesh-gm=9000', want: { name: 'fedmesh-gm', port: 9000 } },
    { name: 'IPv4 host', text: 'gm=10.0.0.5:9000', want: { name: 'gm', port: 9000, host: '10.0.0.5' } },
    { name: 'IPv6 host', text: 'gm=[::1]:9000', want: { name: 'gm', port: 9000, host: '::1' } },
  ];
  for (const c of cases) assert.deepEqual(parseAdvertise(c.text), c.want, c.name);
  for (const bad of ['gm', 'gm=', 'GM=9000', 'gm=0', 'gm=70000', 'gm=gm.sedna:9000', '=9000']) {
    assert.throws(() => parseAdvertise(bad), { code: 'ERR_CONFIG' }, bad);
  }
  assert.deepEqual(resolveAdvertised([{ name: 'gm', port: 9000 }]), [{ name: 'gm', host: '127.0.0.1', port: 9000 }]);
  assert.throws(
    () =>
      resolveAdvertised([
        { name: 'gm', port: 1 },
        { name: 'gm', port: 2 },
      ]),
    { code: 'ERR_CONFIG' },
  );
});

test('advertise: advertised targets are admitted exactly (host and port), nothing around them', () => {
  const list = resolveAdvertised([
    { name: 'gm', port: 9000 },
    { name: 'v6', port: 80, host: '::1' },
    { name: 'pod', port: 8080, host: '10.244.1.7' },
  ]);
  // An allow-list that admits nothing else (an empty CIDR list is not expressible; a TEST-NET one is).
  const policy = createTargetPolicy(['192.0.2.1/32:1', ...advertisedRules(list)]);
  const cases = [
    { host: '127.0.0.1', port: 9000, ok: true },
    { host: '127.0.0.1', port: 9001, ok: false },
    { host: '127.0.0.2', port: 9000, ok: false },
    { host: '::1', port: 80, ok: true },
    { host: '::1', port: 81, ok: false },
    { host: '10.244.1.7', port: 8080, ok: true },
    { host: '10.244.1.8', port: 8080, ok: false },
  ];
  for (const c of cases) assert.equal(policy.allows(c.host, c.port), c.ok, `${c.host}:${c.port}`);
});

test('advertise: DHT keys are stable per name and differ between names', async () => {
  const a = await serviceKey('fedmesh-gm');
  assert.equal(a.toString(), (await serviceKey('fedmesh-gm')).toString());
  assert.notEqual(a.toString(), (await serviceKey('fedmesh-gm2')).toString());
  assert.equal(a.code, 0x55);
});
