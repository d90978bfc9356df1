/**
 * `fedmesh gateway`: the ingress gateway. Serves the Istio Gateways whose selector matches its
 * labels and the VirtualServices bound to them, routing to Services from the service catalog.
 * SIGTERM/SIGINT stop it cleanly (exit 0).
 */
import { hostname } from 'node:os';
import { command } from '../../common/cli/command.ts';
import { shutdownSignal } from '../../common/cli/shutdown.ts';
import { ConfigError } from '../../common/errors.ts';
import { loadClusterAccess } from '../../common/kube/access.ts';
import { createKubeRest } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import { createRegistry, registerProcessMetrics } from '../../common/metrics.ts';
import { limitsFromFlags, listenerLimitFlags } from '../../common/net/flags.ts';
import { DEFAULT_HTTP_LIMITS } from '../../common/net/guard.ts';
import { createDestinationRules } from '../proxy/index.ts';
import { createServiceCatalog } from '../services/index.ts';
import { eventPoster } from './events.ts';
import { createGateway, istioVersion, listerWatchersFor } from './gateway.ts';
import { validHost } from './hosts.ts';
import { buildGatewayServer } from './http.ts';

function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new ConfigError(`expected HOST:PORT, got "${text}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function parseLabel(text: string): [string, string] {
  const eq = text.indexOf('=');
  const k = text.slice(0, eq);
  const v = text.slice(eq + 1);
  if (eq < 0 || !LABEL_KEY.test(k) || !LABEL_VALUE.test(v) || v.length > 63) {
    throw new ConfigError(`expected a label KEY=VALUE, got "${text}"`);
  }
  return [k, v];
}

function parsePortMap(text: string): [number, number] {
  const m = /^(\d{1,5})=(\d{1,5})$/.exec(text);
  const from = Number(m?.[1]);
  const to = Number(m?.[2]);
  if (!m || from < 1 || from > 65535 || to > 65535) throw new ConfigError(`expected PORT=LOCALPORT, got "${text}"`);
  return [from, to];
}

export const gatewayCommand = command({
  name: 'gateway',
  summary: 'run the ingress gateway (Istio Gateway and VirtualService, HTTP routes to Services)',
  flags: {
    kubeconfig: { description: 'cluster access (default: in-cluster, then $KUBECONFIG)', value: 'FILE' },
    label: {
      description: "this gateway's labels, matched by each Gateway's selector (default istio=ingressgateway)",
      value: 'KEY=VALUE',
      multiple: true,
      parse: parseLabel,
    },
    bind: { description: 'address the Gateway ports listen on', value: 'HOST', default: '0.0.0.0' },
    'port-map': {
      description: 'listen for Gateway port PORT on LOCALPORT instead (unprivileged runs; 0: any free port)',
      value: 'PORT=LOCALPORT',
      multiple: true,
      parse: parsePortMap,
    },
    node: {
      description: "this node's name: its endpoints are local (default $NODE_NAME, then the hostname)",
      value: 'NAME',
    },
    'cluster-domain': {
      description: 'cluster DNS domain, for short host names',
      value: 'DOMAIN',
      default: 'cluster.local',
    },
    'no-destination-rules': { description: "don't watch DestinationRules (their load balancer)", type: 'boolean' },
    'http-listen': { description: '/healthz, /readyz, /metrics, /status', value: 'HOST:PORT', parse: parseHostPort },
    ...listenerLimitFlags('http-', 'HTTP endpoint', DEFAULT_HTTP_LIMITS),
  },
  details: [
    'Example: fedmesh gateway --label istio=ingressgateway --port-map 80=8080 --http-listen 127.0.0.1:15021',
    'Gateway servers with protocol HTTP are served; see docs/gateway.md for what is not yet.',
  ].join('\n'),
  async run({ flags: f }) {
    const domain = f['cluster-domain'].replace(/\.$/, '').toLowerCase();
    if (!validHost(domain)) throw new ConfigError(`--cluster-domain: "${f['cluster-domain']}" is not a domain`);
    const labels = Object.fromEntries(f.label?.length ? f.label : [['istio', 'ingressgateway']]);
    const ports = new Map(f['port-map'] ?? []);
    const node = f.node ?? process.env.NODE_NAME ?? hostname().toLowerCase();
    const log = createLogger({ component: 'gateway', node });
    const registry = createRegistry();
    registerProcessMetrics(registry);
    const { access, source } = loadClusterAccess(f.kubeconfig);
    const rest = await createKubeRest(access);
    const shutdown = shutdownSignal(log);
    try {
      const version = await istioVersion(rest, AbortSignal.any([shutdown, AbortSignal.timeout(30_000)])).catch(
        (err) => {
          throw new ConfigError(
            `cannot read the networking.istio.io API group (are the Gateway CRDs installed?): ${(err as Error).message}`,
          );
        },
      );
      log.info({ cluster: source, version, labels }, 'watching Gateways and VirtualServices');
      const catalog = createServiceCatalog({}, { rest, log });
      const rules = f['no-destination-rules'] ? undefined : createDestinationRules({ domain }, { rest, log });
      const gateway = createGateway(
        { labels, domain, nodeName: node, bind: (port) => ({ host: f.bind, port: ports.get(port) ?? port }) },
        {
          catalog,
          listerWatchers: listerWatchersFor(rest, version),
          ...(rules ? { policyFor: (ns: string, name: string, port: number) => rules.policyFor(ns, name, port) } : {}),
          log,
          registry,
          onStatus: eventPoster(rest, `networking.istio.io/${version}`, node, log),
        },
      );
      const http = f['http-listen']
        ? buildGatewayServer({ gateway, registry, log }, limitsFromFlags(f, 'http-'))
        : undefined;
      if (http && f['http-listen']) await http.listen(f['http-listen']);
      await Promise.all([catalog.start(shutdown), rules?.start(shutdown), gateway.start(shutdown)]);
      await http?.close();
    } finally {
      rest.close();
    }
    return 0;
  },
});
