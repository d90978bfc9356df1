import assert from 'node:assert/strict';
import { test } from 'node:test';
import { multiaddr } from '@multiformats/multiaddr';
import { hostOf, toMultiaddr } from './address.ts';

test('relay advertise addresses: IP, IP:PORT, [IPv6]:PORT, DNS name and multiaddr', () => {
  const cases = [
    ['198.18.0.11', '/ip4/198.18.0.11/tcp/20006'],
    ['198.18.0.11:4001', '/ip4/198.18.0.11/tcp/4001'],
    ['[fd00::1]:4001', '/ip6/fd00::1/tcp/4001'],
    ['relay.example.org', '/dns/relay.example.org/tcp/20006'],
    ['/ip4/203.0.113.7/tcp/443', '/ip4/203.0.113.7/tcp/443'],
  ] as const;
  for (const [text, want] of cases) assert.equal(toMultiaddr(text, 20006).toString(), want, text);
});

test('hostOf: the IP of a multiaddr', () => {
  const cases = [
    { name: 'ip4', addr: '/ip4/198.18.0.11/tcp/20006', want: '198.18.0.11' },
    { name: 'ip6', addr: '/ip6/::1/tcp/1', want: '::1' },
    { name: 'circuit', addr: '/ip4/198.18.0.11/tcp/20006/p2p-circuit', want: '198.18.0.11' },
    { name: 'dns', addr: '/dns/relay.example/tcp/1', want: undefined },
  ];
  for (const c of cases) assert.equal(hostOf(multiaddr(c.addr)), c.want, c.name);
});
