import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bestHost,
  hostMatches,
  intersect,
  parseServerHost,
  qualify,
  requestHost,
  selects,
  validHost,
} from './hosts.ts';

test('selector: every label must be ours; empty selects all', () => {
  const own = { istio: 'ingressgateway', zone: 'a' };
  for (const { name, sel, want } of [
    { name: 'subset', sel: { istio: 'ingressgateway' }, want: true },
    { name: 'equal', sel: own, want: true },
    { name: 'other value', sel: { istio: 'egress' }, want: false },
    { name: 'extra label', sel: { istio: 'ingressgateway', app: 'x' }, want: false },
    { name: 'empty', sel: {}, want: true },
    { name: 'absent', sel: undefined, want: true },
  ]) {
    assert.equal(selects(sel, own), want, name);
  }
});

test('server hosts: namespace prefixes', () => {
  assert.deepEqual(parseServerHost('Foo.example.com', 'gw'), { host: 'foo.example.com' });
  assert.deepEqual(parseServerHost('*/foo.com', 'gw'), { host: 'foo.com' });
  assert.deepEqual(parseServerHost('./foo.com', 'gw'), { namespace: 'gw', host: 'foo.com' });
  assert.deepEqual(parseServerHost('prod/*', 'gw'), { namespace: 'prod', host: '*' });
});

test('host validity, short names, wildcard matching', () => {
  for (const [h, ok] of [
    ['*', true],
    ['*.example.com', true],
    ['a-b.example.com', true],
    ['a.*.com', false],
    ['-a.com', false],
    ['', false],
    ['foo..com', false],
  ] as const) {
    assert.equal(validHost(h), ok, h);
  }
  assert.equal(qualify('reviews', 'shop', 'cluster.local'), 'reviews.shop.svc.cluster.local');
  assert.equal(qualify('reviews.other', 'shop', 'cluster.local'), 'reviews.other');
  assert.equal(qualify('*', 'shop', 'cluster.local'), '*');
  assert.equal(hostMatches('*.foo.com', 'a.foo.com'), true);
  assert.equal(hostMatches('*.foo.com', 'a.b.foo.com'), true);
  assert.equal(hostMatches('*.foo.com', 'foo.com'), false);
  assert.equal(hostMatches('*', 'anything'), true);
  assert.equal(hostMatches('foo.com', 'bar.com'), false);
});

test('intersection of a VirtualService host with a server host', () => {
  for (const { a, b, want } of [
    { a: 'shop.example.com', b: '*', want: 'shop.example.com' },
    { a: '*', b: '*.example.com', want: '*.example.com' },
    { a: '*.example.com', b: 'shop.example.com', want: 'shop.example.com' },
    { a: '*.a.example.com', b: '*.example.com', want: '*.a.example.com' },
    { a: 'shop.example.com', b: 'other.example.com', want: undefined },
    { a: '*.example.com', b: 'example.com', want: undefined },
  ]) {
    assert.equal(intersect(a, b), want, `${a} ∩ ${b}`);
  }
});

test('request host and virtual host choice: exact, longest wildcard, then *', () => {
  assert.equal(requestHost('Shop.Example.com:8080'), 'shop.example.com');
  assert.equal(requestHost('[::1]:80'), '[::1]');
  assert.equal(requestHost(undefined), '');
  const hosts = ['*', '*.example.com', '*.a.example.com', 'x.a.example.com'];
  assert.equal(bestHost(hosts, 'x.a.example.com'), 'x.a.example.com');
  assert.equal(bestHost(hosts, 'y.a.example.com'), '*.a.example.com');
  assert.equal(bestHost(hosts, 'b.example.com'), '*.example.com');
  assert.equal(bestHost(hosts, 'other.org'), '*');
  assert.equal(bestHost(['a.com'], 'b.com'), undefined);
});
