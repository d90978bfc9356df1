import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { endpointLabel, normalizeDomain, parseClusterName, parseReverse, reverseName } from './names.ts';

const D = 'cluster.local';

test('parseClusterName: each form of a cluster name, and names outside the domain', () => {
  const cases: Array<{ name: string; q: string; want: ReturnType<typeof parseClusterName> }> = [
    { name: 'outside', q: 'example.com', want: undefined },
    { name: 'suffix without a dot is outside', q: 'xcluster.local', want: undefined },
    { name: 'apex', q: 'cluster.local.', want: { kind: 'apex' } },
    { name: 'svc apex', q: 'svc.cluster.local', want: { kind: 'apex' } },
    { name: 'namespace', q: 'demo.svc.cluster.local', want: { kind: 'namespace', namespace: 'demo' } },
    {
      name: 'service, any case',
      q: 'Web.Demo.svc.CLUSTER.local.',
      want: { kind: 'service', service: 'web', namespace: 'demo' },
    },
    {
      name: 'srv',
      q: '_http._tcp.web.demo.svc.cluster.local',
      want: { kind: 'srv', port: 'http', protocol: 'TCP', service: 'web', namespace: 'demo' },
    },
    {
      name: 'srv udp',
      q: '_dns._udp.kube-dns.kube-system.svc.cluster.local',
      want: { kind: 'srv', port: 'dns', protocol: 'UDP', service: 'kube-dns', namespace: 'kube-system' },
    },
    { name: 'srv with an unknown protocol', q: '_http._xyz.web.demo.svc.cluster.local', want: { kind: 'none' } },
    {
      name: 'headless endpoint',
      q: 'web-0.web.demo.svc.cluster.local',
      want: { kind: 'endpoint', endpoint: 'web-0', service: 'web', namespace: 'demo' },
    },
    { name: 'pod records are not served', q: '10-1-2-3.demo.pod.cluster.local', want: { kind: 'none' } },
    { name: 'too deep', q: 'a.b.c.d.e.svc.cluster.local', want: { kind: 'none' } },
    {
      name: 'search-list expansion of an external name',
      q: 'example.com.svc.cluster.local',
      want: { kind: 'service', service: 'example', namespace: 'com' },
    },
  ];
  for (const c of cases) assert.deepEqual(parseClusterName(c.q, D), c.want, c.name);
  assert.deepEqual(parseClusterName('web.demo.svc.edge.example', 'edge.example'), {
    kind: 'service',
    service: 'web',
    namespace: 'demo',
  });
});

test('normalizeDomain rejects what is not a domain', () => {
  assert.equal(normalizeDomain('Cluster.Local.'), 'cluster.local');
  for (const bad of ['', '.', 'a..b', '-a.b', 'a b', 'a_b.c']) assert.throws(() => normalizeDomain(bad), bad);
});

test('reverse names: IPv4 and IPv6 both ways, partial and malformed names are not addresses', () => {
  assert.equal(reverseName('10.96.0.10'), '10.0.96.10.in-addr.arpa');
  assert.equal(parseReverse('10.0.96.10.in-addr.arpa.'), '10.96.0.10');
  const v6 = reverseName('fd00:96::a');
  assert.equal(v6, `a.${'0.'.repeat(23)}6.9.0.0.0.0.d.f.ip6.arpa`);
  assert.equal(parseReverse(v6.toUpperCase()), 'fd00:96::a');
  for (const bad of [
    '0.96.10.in-addr.arpa',
    '256.0.96.10.in-addr.arpa',
    '01.0.96.10.in-addr.arpa',
    'x.ip6.arpa',
    'example.com',
  ]) {
    assert.equal(parseReverse(bad), undefined, bad);
  }
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (ip) => {
      const back = parseReverse(reverseName(ip));
      assert.equal(back, new URL(`http://${ip.includes(':') ? `[${ip}]` : ip}/`).hostname.replace(/^\[|\]$/g, ''));
    }),
  );
});

test('endpointLabel: hostname, else the address dashed', () => {
  assert.equal(endpointLabel('10.1.2.3', 'Web-0'), 'web-0');
  assert.equal(endpointLabel('10.1.2.3'), '10-1-2-3');
  assert.equal(endpointLabel('FD00:0::5'), 'fd00--5');
});
