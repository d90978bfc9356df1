import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EDGEMESH_PROXY_NAME_LABEL, FEDMESH_PROXY_NAME_LABEL } from './constants.ts';
import {
  canonicalIP,
  checkEndpointSlice,
  checkService,
  type EndpointSliceObject,
  endpointPort,
  exclusion,
  mergeEndpoints,
  OPT_OUT_SELECTOR,
  type ServiceObject,
  serviceInfo,
} from './model.ts';

const svc = (
  spec: Partial<ServiceObject['spec']> = {},
  labels?: Record<string, string>,
  name = 'web',
): ServiceObject => ({
  metadata: { name, namespace: 'demo', ...(labels ? { labels } : {}) },
  spec: {
    clusterIP: '10.0.0.10',
    ports: [
      { name: 'http', port: 80, targetPort: 'web', protocol: 'TCP' },
      { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' },
    ],
    ...spec,
  },
});

const slice = (
  name: string,
  addressType: string,
  endpoints: EndpointSliceObject['endpoints'],
  ports: EndpointSliceObject['ports'],
): EndpointSliceObject => ({
  metadata: { name, namespace: 'demo', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType,
  endpoints,
  ports,
});

test('exclusion: the opt-out labels (any value, empty too) and default/kubernetes', () => {
  const cases = [
    { name: 'plain service', obj: svc(), want: undefined },
    { name: 'edgemesh label with a value', obj: svc({}, { [EDGEMESH_PROXY_NAME_LABEL]: 'other' }), want: 'label' },
    { name: 'edgemesh label, empty value', obj: svc({}, { [EDGEMESH_PROXY_NAME_LABEL]: '' }), want: 'label' },
    { name: 'fedmesh label', obj: svc({}, { [FEDMESH_PROXY_NAME_LABEL]: 'none' }), want: 'label' },
    { name: 'unrelated label', obj: svc({}, { app: 'web' }), want: undefined },
    {
      name: 'the API server Service',
      obj: { ...svc(), metadata: { name: 'kubernetes', namespace: 'default' } },
      want: 'api-server',
    },
    {
      name: 'a Service named kubernetes elsewhere',
      obj: { ...svc(), metadata: { name: 'kubernetes', namespace: 'demo' } },
      want: undefined,
    },
  ];
  for (const c of cases) assert.equal(exclusion(c.obj)?.split(' ')[0], c.want, c.name);
  assert.equal(OPT_OUT_SELECTOR, `!${FEDMESH_PROXY_NAME_LABEL},!${EDGEMESH_PROXY_NAME_LABEL}`);
});

test('serviceInfo: dual stack, headless, affinity, defaults', () => {
  const cases = [
    {
      name: 'dual stack keeps the primary family first',
      obj: svc({ clusterIPs: ['fd00::a', '10.0.0.10'] }),
      want: { clusterIPs: ['fd00::a', '10.0.0.10'], headless: false },
    },
    { name: 'single stack from clusterIP', obj: svc(), want: { clusterIPs: ['10.0.0.10'], headless: false } },
    {
      name: 'headless',
      obj: svc({ clusterIP: 'None', clusterIPs: ['None'] }),
      want: { clusterIPs: [], headless: true },
    },
  ];
  for (const c of cases) {
    const info = serviceInfo(c.obj);
    assert.deepEqual({ clusterIPs: info.clusterIPs, headless: info.headless }, c.want, c.name);
  }
  const plain = serviceInfo(svc({ ports: [{ port: 8080 }] }));
  assert.deepEqual(plain.ports, [{ name: '', protocol: 'TCP', port: 8080, targetPort: 8080 }]);
  assert.equal(plain.sessionAffinity, 'None');
  assert.equal(plain.sessionAffinityTimeoutSeconds, undefined);
  assert.equal(plain.type, 'ClusterIP');
  assert.equal(serviceInfo(svc({ sessionAffinity: 'ClientIP' })).sessionAffinityTimeoutSeconds, 10_800);
  const sticky = serviceInfo(
    svc({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }),
  );
  assert.equal(sticky.sessionAffinityTimeoutSeconds, 60);
});

test('mergeEndpoints: named ports per slice, conditions, node names, IPv4 and IPv6, FQDN skipped, duplicates', () => {
  const info = serviceInfo(svc({ clusterIPs: ['10.0.0.10', 'fd00::a'] }));
  const eps = mergeEndpoints(info, [
    // Pods of one template: the named port "web" is 8080 here ...
    slice(
      'web-a',
      'IPv4',
      [
        { addresses: ['10.1.0.2'], nodeName: 'edge-1' },
        { addresses: ['10.1.0.3'], nodeName: 'edge-2', conditions: { ready: false, serving: true, terminating: true } },
      ],
      [
        { name: 'http', port: 8080, protocol: 'TCP' },
        { name: 'dns', port: 5353, protocol: 'UDP' },
        { name: 'unknown', port: 9, protocol: 'TCP' },
      ],
    ),
    // ... and 9090 for pods of another.
    slice(
      'web-b',
      'IPv4',
      [{ addresses: ['10.1.0.9'], nodeName: 'edge-3' }],
      [
        { name: 'http', port: 9090, protocol: 'TCP' },
        { name: 'dns', port: null, protocol: 'UDP' },
      ],
    ),
    slice(
      'web-v6',
      'IPv6',
      [{ addresses: ['fd00:1::2'], nodeName: 'edge-1' }],
      [{ name: 'http', port: 8080, protocol: 'TCP' }],
    ),
    slice('web-fqdn', 'FQDN', [{ addresses: ['a.example.com'] }], [{ name: 'http', port: 80 }]),
    // The same pod seen in a second slice while it moves, not ready there: the ready copy wins.
    slice(
      'web-c',
      'IPv4',
      [{ addresses: ['10.1.0.2'], conditions: { ready: false } }],
      [
        { name: 'dns', port: 5353, protocol: 'UDP' },
        { name: 'http', port: 8080, protocol: 'TCP' },
      ],
    ),
    slice('web-empty', 'IPv4', null, null),
  ]);
  assert.deepEqual(
    eps.map((e) => ({
      a: e.addresses[0],
      f: e.family,
      n: e.nodeName,
      c: [e.ready, e.serving, e.terminating],
      http: endpointPort(e, 'http'),
      dns: endpointPort(e, 'dns', 'UDP'),
    })),
    [
      { a: '10.1.0.2', f: 'IPv4', n: 'edge-1', c: [true, true, false], http: 8080, dns: 5353 },
      { a: '10.1.0.3', f: 'IPv4', n: 'edge-2', c: [false, true, true], http: 8080, dns: 5353 },
      { a: '10.1.0.9', f: 'IPv4', n: 'edge-3', c: [true, true, false], http: 9090, dns: undefined },
      { a: 'fd00:1::2', f: 'IPv6', n: 'edge-1', c: [true, true, false], http: 8080, dns: undefined },
    ],
  );
  assert.equal(
    eps.every((e) => e.ports.every((p) => p.name !== 'unknown')),
    true,
    'a slice port no Service port names is dropped',
  );
  assert.deepEqual(mergeEndpoints(info, []), []);
});

test('schemas: valid objects pass, malformed ones are rejected', () => {
  assert.equal(checkService.Check(svc()), true);
  assert.equal(checkService.Check({ metadata: { name: 'x', namespace: 'y' }, spec: { ports: [{ port: 0 }] } }), false);
  assert.equal(checkService.Check({ metadata: { name: 'x' }, spec: {} }), false, 'namespace required');
  assert.equal(checkEndpointSlice.Check(slice('s', 'IPv4', [{ addresses: ['10.0.0.1'] }], [])), true);
  assert.equal(checkEndpointSlice.Check(slice('s', 'IPv4', [{ addresses: [] }], [])), false);
  assert.equal(checkEndpointSlice.Check({ metadata: { name: 's', namespace: 'y' }, endpoints: [] }), false);
});

test('canonicalIP: IPv6 in its compressed lower-case form, IPv4 unchanged', () => {
  const cases = [
    { name: 'ipv4', ip: '10.0.0.1', want: '10.0.0.1' },
    { name: 'ipv6 expanded', ip: 'FD00:0:0:0:0:0:0:A', want: 'fd00::a' },
    { name: 'ipv6 bracketed', ip: '[fd00::a]', want: 'fd00::a' },
    { name: 'not an ip', ip: 'zz:zz', want: 'zz:zz' },
  ];
  for (const c of cases) assert.equal(canonicalIP(c.ip), c.want, c.name);
});
