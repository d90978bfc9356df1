/**
 * A node agent with the service proxy for test/mesh/proxy.test.ts: the mesh node, the service
 * catalog, DestinationRules, nft steering and the proxy, as `fedmesh mesh` wires them, run in a
 * netlab host. Args: one JSON object (name, stateDir, pskFile, kubeconfig, relays, tunnelAllow).
 * SIGTERM stops it (rules removed); the test also kills it with SIGKILL.
 */
import { loadClusterAccess } from '../../common/kube/access.ts';
import { createKubeRest } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import { createMeshNode } from '../../mesh/node.ts';
import { readPskFile } from '../../mesh/pnet/psk.ts';
import { createDestinationRules, createServiceProxy, createSteering } from '../../mesh/proxy/index.ts';
import { createServiceCatalog } from '../../mesh/services/index.ts';

const opts = JSON.parse(process.argv[2] ?? '{}') as {
  name: string;
  stateDir: string;
  pskFile: string;
  kubeconfig: string;
  relays: Array<{ nodeName: string; advertiseAddress: string[] }>;
  tunnelAllow: string[];
  directCidrs?: string[];
};
const log = createLogger({ component: 'mesh', node: opts.name });
const ac = new AbortController();
process.once('SIGTERM', () => ac.abort());
const node = await createMeshNode(
  {
    name: opts.name,
    stateDir: opts.stateDir,
    psk: await readPskFile(opts.pskFile),
    listen: [{ host: '0.0.0.0', port: 20006 }],
    relayNodes: opts.relays,
    tunnelAllow: opts.tunnelAllow,
  },
  { log },
);
const rest = await createKubeRest(loadClusterAccess(opts.kubeconfig).access);
const catalog = createServiceCatalog({}, { rest, log });
const rules = createDestinationRules({ domain: 'cluster.local' }, { rest, log });
const proxy = createServiceProxy(
  { directCidrs: opts.directCidrs },
  { catalog, mesh: node, steering: await createSteering('auto'), rules, log },
);
const running = [node.start(ac.signal), catalog.start(ac.signal), proxy.start(ac.signal)];
await node.ready;
await proxy.ready;
log.info({ proxy: proxy.status() }, 'proxy agent ready');
await Promise.allSettled(running);
rest.close();
