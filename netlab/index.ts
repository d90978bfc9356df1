/**
 * netlab: several hosts on one machine as network namespaces on bridges, for whatever needs a
 * real network (VIP failover, mesh relays, NAT, partitions): tests, benchmarks, a local sandbox.
 * Needs root. Addresses come from 198.18.0.0/15.
 *
 *   const lab = await createLab(); t.after(() => lab.destroy());
 *   await lab.addSegment('lan');
 *   const a = await lab.addHost('a', { links: [{ segment: 'lan', address: '198.18.0.1/24' }] });
 *
 * Routers with NAT and link conditions (for the mesh):
 *
 *   await lab.addRouter('ra', { inside: { segment: 'lana', address: '198.18.1.1/24' },
 *                               outside: { segment: 'pub', address: '198.18.0.1/24' }, mapping: 'symmetric' });
 *   await host.shape('pub', { delayMs: 40, lossPct: 1 });
 */
export {
  createLab,
  type ExecResult,
  type Host,
  type HostInit,
  type Lab,
  labNamespaces,
  type RouterInit,
  reapStaleLabs,
  type Segment,
} from './lab.ts';
export type { NatInit, NatMapping, ShapeInit } from './shaping.ts';
