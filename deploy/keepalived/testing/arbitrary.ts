/**
 * fast-check generator of valid KeepalivedInit values (test-only). Shared by the unit property
 * (the validator accepts them, rendering is deterministic) and the real `keepalived -t` property.
 */
import fc from 'fast-check';
import type { KeepalivedInit, ReadinessCheck } from '../options.ts';

/** Every generated config uses this interface, so one namespace link serves all runs. */
export const ARBITRARY_INTERFACE = 'kveth0';

const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);
// Distinct last octets in 198.18.0.0/24: node addresses first, VIPs after, so none collide.
const hostOctets = fc.uniqueArray(fc.integer({ min: 1, max: 254 }), { minLength: 6, maxLength: 12 });

const readiness: fc.Arbitrary<ReadinessCheck> = fc.oneof(
  fc.record(
    {
      kind: fc.constant('script' as const),
      url: fc
        .tuple(
          fc.constantFrom('http', 'https'),
          fc.integer({ min: 1, max: 65535 }),
          fc.stringMatching(/^[a-z0-9/]{0,20}$/),
        )
        .map(([scheme, port, path]) => `${scheme}://127.0.0.1:${port}/${path}`),
      intervalSeconds: fc.integer({ min: 1, max: 4294 }),
      timeoutSeconds: fc.integer({ min: 1, max: 4294 }),
      fall: fc.integer({ min: 1, max: 2_147_483_647 }),
      rise: fc.integer({ min: 1, max: 2_147_483_647 }),
    },
    { requiredKeys: ['kind', 'url'] },
  ),
  fc.record({
    kind: fc.constant('file' as const),
    // Under a directory no machine has: `keepalived -t` refuses a track file that exists and is
    // not a regular file (a generated `/bin` failed), which says nothing about our rendering.
    path: fc
      .stringMatching(/^\/[a-z0-9_-]{1,20}(?:\/[a-z0-9._-]{0,19}[a-z0-9_-])?$/)
      .map((p) => `/nonexistent-fedmesh${p}`),
  }),
);

const timing = fc.oneof(
  fc.record({
    vrrpVersion: fc.constant(3 as const),
    advertIntSeconds: fc.integer({ min: 1, max: 4095 }).map((c) => c / 100),
  }),
  fc.record({ vrrpVersion: fc.constant(2 as const), advertIntSeconds: fc.integer({ min: 1, max: 255 }) }),
  fc.constant({}),
);

export const validKeepalivedInit: fc.Arbitrary<KeepalivedInit> = fc
  .record({
    routerId: name,
    instanceName: fc.option(name, { nil: undefined }),
    virtualRouterId: fc.integer({ min: 1, max: 255 }),
    priority: fc.integer({ min: 1, max: 255 }),
    nopreempt: fc.boolean(),
    timing,
    octets: hostOctets,
    peerCount: fc.integer({ min: 0, max: 4 }),
    prefixes: fc.array(fc.option(fc.integer({ min: 1, max: 32 }), { nil: undefined }), {
      minLength: 12,
      maxLength: 12,
    }),
    readiness,
  })
  .map((r) => {
    const addr = (o: number): string => `198.18.0.${o}`;
    const peers = r.peerCount === 0 ? [] : r.octets.slice(1, 1 + r.peerCount);
    const vipOctets = r.octets.slice(1 + r.peerCount);
    const init: KeepalivedInit = {
      routerId: r.routerId,
      interface: ARBITRARY_INTERFACE,
      virtualRouterId: r.virtualRouterId,
      priority: r.priority,
      // keepalived refuses nopreempt for the address owner (priority 255).
      nopreempt: r.nopreempt && r.priority < 255,
      virtualIps: vipOctets.map((o, i) => (r.prefixes[i] === undefined ? addr(o) : `${addr(o)}/${r.prefixes[i]}`)),
      readiness: r.readiness,
      ...r.timing,
    };
    if (r.instanceName !== undefined) init.instanceName = r.instanceName;
    if (peers.length > 0) init.unicast = { srcIp: addr(r.octets[0] as number), peers: peers.map(addr) };
    return init;
  });
