/** Object builders for the gateway's unit tests (not used by shipped code). */
import type { ServiceInfo } from '../services/index.ts';
import type { Gateway, HttpRoute, Server, VirtualService } from './model.ts';
import type { TableInput } from './routes.ts';

let clock = 0;
const stamp = () => new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString();

export function gateway(
  name: string,
  servers: Server[],
  selector: Record<string, string> = { istio: 'ingressgateway' },
  namespace = 'edge',
): Gateway {
  return { metadata: { name, namespace, creationTimestamp: stamp() }, spec: { selector, servers } };
}

export const httpServer = (hosts: string[], port = 80): Server => ({
  port: { number: port, protocol: 'HTTP', name: 'http' },
  hosts,
});

export function virtualService(
  name: string,
  hosts: string[],
  http: HttpRoute[],
  gateways = ['edge/gw'],
  namespace = 'shop',
): VirtualService {
  return { metadata: { name, namespace, creationTimestamp: stamp() }, spec: { hosts, gateways, http } };
}

export function service(namespace: string, name: string, ports: number[] = [80]): ServiceInfo {
  return {
    namespace,
    name,
    type: 'ClusterIP',
    clusterIPs: ['10.96.0.10'],
    headless: false,
    ports: ports.map((port, i) => ({ name: ports.length > 1 ? `p${i}` : '', protocol: 'TCP', port, targetPort: port })),
    sessionAffinity: 'None',
  };
}

export function input(
  gateways: Gateway[],
  virtualServices: VirtualService[],
  services: ServiceInfo[] = [],
): TableInput {
  return {
    gateways,
    virtualServices,
    labels: { istio: 'ingressgateway', app: 'fedmesh-gateway' },
    domain: 'cluster.local',
    service: (ns, name) => services.find((s) => s.namespace === ns && s.name === name),
    secretExists: (ns, name) => ns === 'edge' && name === 'shop-cert',
  };
}

export const to = (host: string, weight?: number, port?: number) => ({
  destination: { host, ...(port === undefined ? {} : { port: { number: port } }) },
  ...(weight === undefined ? {} : { weight }),
});
