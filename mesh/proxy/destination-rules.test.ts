import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ruleTarget, toPolicy } from './destination-rules.ts';

test('loadBalancer → policy', () => {
  const cases: Array<{ name: string; lb: unknown; want?: unknown; code?: string }> = [
    { name: 'absent', lb: undefined, want: undefined },
    { name: 'round robin', lb: { simple: 'ROUND_ROBIN' }, want: { simple: 'ROUND_ROBIN' } },
    { name: 'unspecified', lb: { simple: 'UNSPECIFIED' }, want: { simple: 'ROUND_ROBIN' } },
    { name: 'random', lb: { simple: 'RANDOM' }, want: { simple: 'RANDOM' } },
    { name: 'least conn alias', lb: { simple: 'LEAST_CONN' }, want: { simple: 'LEAST_REQUEST' } },
    {
      name: 'source ip',
      lb: { consistentHash: { useSourceIp: true } },
      want: { consistentHash: { useSourceIp: true } },
    },
    {
      name: 'source ip with ring size',
      lb: { consistentHash: { useSourceIp: true, ringHash: { minimumRingSize: 1024 } } },
      want: { consistentHash: { useSourceIp: true } },
    },
    {
      name: 'header',
      lb: { consistentHash: { httpHeaderName: 'x-user' } },
      want: { consistentHash: { httpHeaderName: 'x-user' } },
    },
    {
      name: 'cookie with ttl',
      lb: { consistentHash: { httpCookie: { name: 'sid', path: '/app', ttl: '1h30m' } } },
      want: { consistentHash: { httpCookie: { name: 'sid', path: '/app', ttlS: 5400 } } },
    },
    { name: 'unknown field', lb: { simpel: 'RANDOM' }, code: 'ERR_INVALID_DESTINATION_RULE' },
    { name: 'unknown value', lb: { simple: 'FASTEST' }, code: 'ERR_INVALID_DESTINATION_RULE' },
    { name: 'passthrough', lb: { simple: 'PASSTHROUGH' }, code: 'ERR_INVALID_DESTINATION_RULE' },
    {
      name: 'both',
      lb: { simple: 'RANDOM', consistentHash: { useSourceIp: true } },
      code: 'ERR_INVALID_DESTINATION_RULE',
    },
    {
      name: 'two keys',
      lb: { consistentHash: { useSourceIp: true, httpHeaderName: 'x' } },
      code: 'ERR_INVALID_DESTINATION_RULE',
    },
    {
      name: 'query param',
      lb: { consistentHash: { httpQueryParameterName: 'u' } },
      code: 'ERR_INVALID_DESTINATION_RULE',
    },
  ];
  for (const k of cases) {
    if (k.code) assert.throws(() => toPolicy(k.lb, 'lb'), { code: k.code }, k.name);
    else assert.deepEqual(toPolicy(k.lb, 'lb'), k.want, k.name);
  }
});

test('host → Service', () => {
  const cases = [
    { host: 'web', want: { namespace: 'rules', name: 'web' } },
    { host: 'web.demo', want: undefined },
    { host: 'web.demo.svc.edge.local', want: { namespace: 'demo', name: 'web' } },
    { host: 'web.demo.svc.cluster.local', want: undefined },
    { host: '*.demo.svc.edge.local', want: undefined },
    { host: 'example.com', want: undefined },
  ];
  for (const k of cases) assert.deepEqual(ruleTarget(k.host, 'rules', 'edge.local'), k.want, k.host);
});
