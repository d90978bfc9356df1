/**
 * netlab: several hosts on one machine as network namespaces on bridges, for tests that need a
 * real network (VIP failover, mesh relays, partitions). Addresses come from 198.18.0.0/15.
 *
 *   const lab = await createLab(); t.after(() => lab.destroy());
 *   await lab.addSegment('lan');
 *   const a = await lab.addHost('a', { links: [{ segment: 'lan', address: '198.18.0.1/24' }] });
 */
export {
  createLab,
  type ExecResult,
  type Host,
  type HostInit,
  type Lab,
  labNamespaces,
  reapStaleLabs,
  type Segment,
} from './lab.ts';
