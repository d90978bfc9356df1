import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Answer, RecordType } from 'dns-packet';
import type { Endpoint } from '../services/index.ts';
import { createClusterZone } from './cluster.ts';
import { reverseName } from './names.ts';
import { entry, stubCatalog } from './testing.ts';

const ep = (address: string, o: Partial<Endpoint> = {}): Endpoint => ({
  addresses: [address],
  family: address.includes(':') ? 'IPv6' : 'IPv4',
  ready: true,
  serving: true,
  terminating: false,
  ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
  ...o,
});

const http = { name: 'http', protocol: 'TCP' as const, port: 80, targetPort: 'web' };
const catalog = stubCatalog([
  entry('demo', 'web', {
    clusterIPs: ['10.96.0.10', 'fd00:96::10'],
    ports: [http, { name: '', protocol: 'UDP', port: 53, targetPort: 53 }],
  }),
  entry('demo', 'db', { headless: true, ports: [http] }, [
    ep('10.244.1.5', { hostname: 'db-0' }),
    ep('10.244.2.6'),
    ep('fd00:244::7'),
    ep('10.244.3.8', { ready: false, serving: false, terminating: true }),
  ]),
  entry('demo', 'empty', { headless: true, ports: [http] }, [ep('10.244.9.9', { ready: false })]),
  entry('demo', 'v4only', { clusterIPs: ['10.96.0.11'], ports: [http] }),
  entry('demo', 'ext', { type: 'ExternalName', externalName: 'db.example.com.' }),
]);
const zone = createClusterZone({ domain: 'cluster.local', ttl: 5 }, catalog);
const data = (as: Answer[] | undefined) => (as ?? []).map((a) => ('data' in a ? a.data : undefined));

function ask(name: string, type: RecordType) {
  const a = zone.answer(name, type);
  assert.ok(a, `${name} ${type} is ours`);
  return a;
}

test('A and AAAA: a Service answers its cluster IPs by family; ANY both', () => {
  assert.deepEqual(data(ask('web.demo.svc.cluster.local', 'A').answers), ['10.96.0.10']);
  assert.deepEqual(data(ask('web.demo.svc.cluster.local.', 'AAAA').answers), ['fd00:96::10']);
  assert.deepEqual(data(ask('WEB.demo.svc.cluster.local', 'ANY' as RecordType).answers), ['10.96.0.10', 'fd00:96::10']);
  const a = ask('web.demo.svc.cluster.local', 'A');
  assert.equal(a.answers[0]?.name, 'web.demo.svc.cluster.local');
  assert.equal((a.answers[0] as { ttl: number }).ttl, 5);
});

test('NODATA (NOERROR, no answers, the SOA) for a type a name does not have; NXDOMAIN for names that do not exist', () => {
  const nodata = ask('v4only.demo.svc.cluster.local', 'AAAA');
  assert.equal(nodata.rcode, 'NOERROR');
  assert.deepEqual(nodata.answers, []);
  assert.equal(nodata.authorities[0]?.type, 'SOA');
  assert.equal(ask('web.demo.svc.cluster.local', 'MX').rcode, 'NOERROR');
  for (const [name, why] of [
    ['nope.demo.svc.cluster.local', 'unknown service'],
    ['web.other.svc.cluster.local', 'unknown namespace'],
    ['other.svc.cluster.local', 'namespace without Services'],
    ['1-2-3-4.demo.pod.cluster.local', 'pod records are not served'],
    ['example.com.demo.svc.cluster.local', 'search-list expansion'],
  ]) {
    const a = ask(name as string, 'A');
    assert.equal(a.rcode, 'NXDOMAIN', why);
    assert.equal(a.authorities[0]?.type, 'SOA', why);
  }
  assert.equal(ask('demo.svc.cluster.local', 'A').rcode, 'NOERROR', 'a namespace with Services exists');
  assert.deepEqual(data(ask('cluster.local', 'SOA').answers).length, 1);
});

test('headless: the ready endpoint addresses by family, each endpoint by hostname or dashed address', () => {
  assert.deepEqual(data(ask('db.demo.svc.cluster.local', 'A').answers), ['10.244.1.5', '10.244.2.6']);
  assert.deepEqual(data(ask('db.demo.svc.cluster.local', 'AAAA').answers), ['fd00:244::7']);
  assert.deepEqual(data(ask('db-0.db.demo.svc.cluster.local', 'A').answers), ['10.244.1.5']);
  assert.deepEqual(data(ask('10-244-2-6.db.demo.svc.cluster.local', 'A').answers), ['10.244.2.6']);
  assert.deepEqual(data(ask('fd00-244--7.db.demo.svc.cluster.local', 'AAAA').answers), ['fd00:244::7']);
  assert.equal(ask('10-244-3-8.db.demo.svc.cluster.local', 'A').rcode, 'NXDOMAIN', 'not ready');
  assert.equal(ask('db-0.web.demo.svc.cluster.local', 'A').rcode, 'NXDOMAIN', 'not headless');
  assert.equal(ask('empty.demo.svc.cluster.local', 'A').rcode, 'NXDOMAIN', 'no ready endpoint, as CoreDNS');
});

test('SRV: named ports; cluster IP Services point at the Service, headless ones at each endpoint with its port', () => {
  const s = ask('_http._tcp.web.demo.svc.cluster.local', 'SRV');
  assert.deepEqual(data(s.answers), [{ priority: 0, weight: 100, port: 80, target: 'web.demo.svc.cluster.local' }]);
  assert.deepEqual(data(s.additionals), ['10.96.0.10', 'fd00:96::10']);
  const h = ask('_http._tcp.db.demo.svc.cluster.local', 'SRV');
  assert.deepEqual(
    data(h.answers).map((d) => d && typeof d === 'object' && 'target' in d && [d.target, d.port]),
    [
      ['db-0.db.demo.svc.cluster.local', 8080],
      ['10-244-2-6.db.demo.svc.cluster.local', 8080],
      ['fd00-244--7.db.demo.svc.cluster.local', 8080],
    ],
  );
  assert.deepEqual(data(h.additionals), ['10.244.1.5', '10.244.2.6', 'fd00:244::7']);
  // SRV on the Service name: every named port, owned by the name asked.
  const all = ask('web.demo.svc.cluster.local', 'SRV');
  assert.equal(all.answers.length, 1, 'the unnamed port has no SRV name');
  assert.equal(all.answers[0]?.name, 'web.demo.svc.cluster.local');
  assert.equal(ask('_http._udp.web.demo.svc.cluster.local', 'SRV').rcode, 'NXDOMAIN', 'wrong protocol');
  assert.equal(ask('_nope._tcp.web.demo.svc.cluster.local', 'SRV').rcode, 'NXDOMAIN');
  assert.equal(ask('_http._tcp.web.demo.svc.cluster.local', 'A').rcode, 'NOERROR', 'NODATA');
});

test('PTR: cluster IPs and ready headless endpoint IPs; unknown addresses are not ours', () => {
  assert.deepEqual(data(ask(reverseName('10.96.0.10'), 'PTR').answers), ['web.demo.svc.cluster.local']);
  assert.deepEqual(data(ask(reverseName('fd00:96::10'), 'PTR').answers), ['web.demo.svc.cluster.local']);
  assert.deepEqual(data(ask(reverseName('10.244.1.5'), 'PTR').answers), ['db-0.db.demo.svc.cluster.local']);
  assert.deepEqual(data(ask(reverseName('fd00:244::7'), 'PTR').answers), ['fd00-244--7.db.demo.svc.cluster.local']);
  assert.equal(zone.answer(reverseName('10.244.3.8'), 'PTR'), undefined, 'not ready');
  assert.equal(zone.answer(reverseName('192.0.2.1'), 'PTR'), undefined);
  assert.equal(zone.answer('example.com', 'A'), undefined);
});

test('ExternalName: a CNAME, chased for A/AAAA', () => {
  const a = ask('ext.demo.svc.cluster.local', 'A');
  assert.deepEqual(data(a.answers), ['db.example.com']);
  assert.equal(a.answers[0]?.type, 'CNAME');
  assert.equal(a.chase, 'db.example.com');
  assert.equal(ask('ext.demo.svc.cluster.local', 'TXT').chase, undefined);
});

test('ExternalName pointing into the cluster domain is chased here', () => {
  const c = stubCatalog([
    entry('demo', 'alias', { type: 'ExternalName', externalName: 'web.demo.svc.cluster.local' }),
    entry('demo', 'web', { clusterIPs: ['10.96.0.10'] }),
  ]);
  const z = createClusterZone({ domain: 'cluster.local', ttl: 5 }, c);
  assert.equal(z.answer('alias.demo.svc.cluster.local', 'A')?.chase, 'web.demo.svc.cluster.local');
});

test('changes in the catalog show in the next answer (names, PTR, namespaces)', () => {
  const c = stubCatalog();
  const z = createClusterZone({ domain: 'edge.example', ttl: 3 }, c);
  assert.equal(z.answer('a.ns.svc.edge.example', 'A')?.rcode, 'NXDOMAIN');
  c.set(entry('ns', 'a', { clusterIPs: ['10.0.0.1'] }));
  assert.deepEqual(data(z.answer('a.ns.svc.edge.example', 'A')?.answers), ['10.0.0.1']);
  assert.deepEqual(data(z.answer(reverseName('10.0.0.1'), 'PTR')?.answers), ['a.ns.svc.edge.example']);
  c.set(entry('ns', 'a', { clusterIPs: ['10.0.0.2'] }));
  assert.equal(z.answer(reverseName('10.0.0.1'), 'PTR'), undefined);
  c.remove('ns', 'a');
  assert.equal(z.answer('a.ns.svc.edge.example', 'A')?.rcode, 'NXDOMAIN');
  assert.equal(z.answer('a.ns.svc.cluster.local', 'A'), undefined, 'another domain is forwarded');
});

test('before the catalog has synced, cluster names are SERVFAIL (not a cached NXDOMAIN)', () => {
  let synced = false;
  const c = { ...stubCatalog([entry('ns', 'a', { clusterIPs: ['10.0.0.1'] })]), synced: () => synced };
  const z = createClusterZone({ domain: 'cluster.local', ttl: 5 }, c);
  assert.equal(z.answer('a.ns.svc.cluster.local', 'A')?.rcode, 'SERVFAIL');
  synced = true;
  assert.deepEqual(data(z.answer('a.ns.svc.cluster.local', 'A')?.answers), ['10.0.0.1']);
});
