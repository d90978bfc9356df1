/**
 * The node-local service proxy: keeps one loopback listener per ClusterIP:port/protocol of the
 * catalog, the kernel steering rules pointing at them (rules.ts), and a balancer per Service port
 * (lb.ts) whose policy comes from the Service's affinity and its DestinationRule.
 */
import type { Server } from 'node:net';
import { isIP } from 'node:net';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import type { ListenerLimits } from '../../common/net/guard.ts';
import { endpointPort, type ServiceCatalog } from '../services/index.ts';
import { FAILURE_PENALTY_MS, UDP_IDLE_MS } from './constants.ts';
import type { DestinationRules } from './destination-rules.ts';
import { type Balancer, createBalancer, type LbPolicy } from './lb.ts';
import { proxyMetrics } from './metrics.ts';
import { createCidrList, type ProxyMesh, targetsFor } from './route.ts';
import type { Steering, SteerRule } from './rules.ts';
import { type PortDeps, startTcpPort } from './tcp.ts';
import { startUdpPort, type UdpPort } from './udp.ts';

/** What the proxy reads of the service catalog. */
export type ProxyCatalog = Pick<ServiceCatalog, 'byClusterIP' | 'entries' | 'onChange' | 'waitForSync'>;

export interface ServiceProxyInit {
  /**
   * Endpoint addresses dialled directly when their node is on our LAN (a routable pod network);
   * others go through a tunnel to their node. Endpoints on this node are always dialled directly.
   * Default none.
   */
  directCidrs?: string[];
  /** UDP flows idle this long are closed, ms. Default 60 000. */
  udpIdleMs?: number;
  /** Limits of each TCP listener (listener guard). Default 4096 in total and per source, 15 s to connect. */
  limits?: ListenerLimits;
}

export interface ServiceProxyComponents {
  /** The service catalog, started by its owner (the node agent shares it with DNS). */
  catalog: ProxyCatalog;
  mesh: ProxyMesh;
  steering: Steering;
  /** DestinationRules; absent: every Service port uses ROUND_ROBIN (or its ClientIP affinity). */
  rules?: DestinationRules;
  log: Logger;
  registry?: Registry;
}

export interface PortStatus {
  clusterIP: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  localPort: number;
  policy: LbPolicy;
  rule?: string;
  affinityTimeoutS?: number;
}

export interface ServiceProxy {
  /** Steers and proxies until `signal` aborts; removes its rules and resolves once stopped. */
  start(signal: AbortSignal): Promise<void>;
  /** Resolves after the first sync (listeners bound, rules applied). */
  readonly ready: Promise<void>;
  status(): { backend: string; ports: Record<string, PortStatus> };
  /**
   * For one Service (the debug view): each ClusterIP:port with its policy, and every endpoint with
   * its node, whether it takes new connections, its locality, RTT and the path a connection would
   * take now. Undefined when the Service is not in the catalog.
   */
  explain(namespace: string, name: string): ServiceExplain | undefined;
}

export interface ServiceExplain {
  service: string;
  ports: Array<PortStatus & { endpoints: EndpointExplain[] }>;
}

export interface EndpointExplain {
  address: string;
  port?: number;
  node?: string;
  usable: boolean;
  locality?: string;
  rttMs?: number;
  /** local | lan (direct dial) | mesh-direct | mesh-punched | mesh-relayed | mesh (no connection yet). */
  path?: string;
  penalized?: boolean;
}

/** Listener limits: local clients only (the listener is on loopback); the deadline covers the endpoint dial. */
const DEFAULT_LIMITS: ListenerLimits = {
  maxConnections: 4096,
  maxConnectionsPerSource: 4096,
  handshakeTimeoutMs: 15_000,
};

interface PortState {
  key: string;
  rule: SteerRule;
  service: string;
  balancerKey: string;
  tcp?: Server;
  udp?: UdpPort;
}

export function createServiceProxy(init: ServiceProxyInit, components: ServiceProxyComponents): ServiceProxy {
  const { catalog, mesh, steering } = components;
  const log = components.log.child({ component: 'mesh.proxy' });
  const metrics = proxyMetrics(components.registry);
  const direct = createCidrList(init.directCidrs ?? []);
  const failedAt = new Map<string, number>();
  const penalized = (id: string) => {
    const at = failedAt.get(id);
    if (at === undefined) return false;
    if (performance.now() - at < FAILURE_PENALTY_MS) return true;
    failedAt.delete(id);
    return false;
  };
  const ports = new Map<string, PortState>();
  const balancers = new Map<string, { balancer: Balancer; rule?: string; affinity?: number }>();
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((r) => {
    readyResolve = r;
  });

  /** The balancer of a Service port with its current policy (affinity, then the DestinationRule). */
  const balancerFor = (namespace: string, name: string, port: number, affinity?: number) => {
    const key = `${namespace}/${name}:${port}`;
    const dr = components.rules?.policyFor(namespace, name, port);
    const conf = { policy: dr?.policy, affinityTimeoutS: affinity };
    let b = balancers.get(key);
    if (!b) {
      b = { balancer: createBalancer(conf) };
      balancers.set(key, b);
    } else if (
      b.rule !== dr?.rule ||
      b.affinity !== affinity ||
      JSON.stringify(b.balancer.policy) !== JSON.stringify(dr?.policy ?? b.balancer.policy)
    ) {
      b.balancer.update(conf);
    }
    b.rule = dr?.rule;
    b.affinity = affinity;
    return b;
  };

  const depsFor = (clusterIP: string, port: number, protocol: 'TCP' | 'UDP'): PortDeps => ({
    mesh,
    metrics,
    log,
    penalize: (id) => failedAt.set(id, performance.now()),
    plan(sourceIp, headers) {
      const match = catalog.byClusterIP(clusterIP, port, protocol);
      if (!match) return undefined;
      const svc = match.entry.service;
      const { balancer } = balancerFor(svc.namespace, svc.name, port, svc.sessionAffinityTimeoutSeconds);
      const targets = targetsFor(match.entry, match.port, clusterIP, mesh, direct, penalized);
      const ordered = balancer.pick(targets, sourceIp, headers) as typeof targets;
      return { service: `${svc.namespace}/${svc.name}`, targets: ordered, balancer };
    },
  });

  const desired = (): Map<string, Omit<PortState, 'rule'> & { rule: Omit<SteerRule, 'localPort'> }> => {
    const out = new Map<string, Omit<PortState, 'rule'> & { rule: Omit<SteerRule, 'localPort'> }>();
    for (const { service } of catalog.entries()) {
      if (service.headless || service.type === 'ExternalName') continue;
      for (const ip of service.clusterIPs)
        for (const p of service.ports) {
          if (p.protocol !== 'TCP' && p.protocol !== 'UDP') continue; // SCTP: not proxied
          const key = `${ip}|${p.port}|${p.protocol}`;
          out.set(key, {
            key,
            service: `${service.namespace}/${service.name}`,
            balancerKey: `${service.namespace}/${service.name}:${p.port}`,
            rule: { clusterIP: ip, port: p.port, protocol: p.protocol },
          });
        }
    }
    return out;
  };

  const closePort = (s: PortState) => {
    s.tcp?.close();
    s.udp?.close();
  };

  let lastRules = '';
  const sync = async () => {
    const want = desired();
    for (const [key, s] of ports)
      if (!want.has(key)) {
        ports.delete(key);
        closePort(s);
        log.info({ service: s.service, clusterIP: s.rule.clusterIP, port: s.rule.port }, 'service port removed');
      }
    for (const [key, w] of want) {
      if (ports.has(key)) continue;
      const host = isIP(w.rule.clusterIP) === 6 ? '::1' : '127.0.0.1';
      const deps = depsFor(w.rule.clusterIP, w.rule.port, w.rule.protocol);
      try {
        let localPort: number;
        const state: PortState = { ...w, rule: { ...w.rule, localPort: 0 } };
        if (w.rule.protocol === 'TCP') {
          state.tcp = await startTcpPort(
            { host, label: 'proxy' },
            deps,
            init.limits ?? DEFAULT_LIMITS,
            components.registry,
          );
          localPort = (state.tcp.address() as { port: number }).port;
        } else {
          state.udp = await startUdpPort({ host }, deps, init.udpIdleMs ?? UDP_IDLE_MS, log);
          localPort = state.udp.socket.address().port;
        }
        state.rule.localPort = localPort;
        ports.set(key, state);
        log.info(
          { service: w.service, clusterIP: w.rule.clusterIP, port: w.rule.port, protocol: w.rule.protocol, localPort },
          'service port proxied',
        );
      } catch (err) {
        log.error({ err, service: w.service, key }, 'could not listen for a service port');
      }
    }
    for (const key of balancers.keys())
      if (![...ports.values()].some((s) => s.balancerKey === key)) balancers.delete(key);
    const rules = [...ports.values()].map((s) => s.rule);
    const text = JSON.stringify(rules.map((r) => [r.clusterIP, r.port, r.protocol, r.localPort]).sort());
    if (text !== lastRules) {
      await steering.apply(rules);
      lastRules = text;
      log.info({ rules: rules.length, backend: steering.backend }, 'steering rules applied');
    }
  };

  const explainPort = (s: PortState): EndpointExplain[] => {
    const match = catalog.byClusterIP(s.rule.clusterIP, s.rule.port, s.rule.protocol);
    if (!match) return [];
    const targets = targetsFor(match.entry, match.port, s.rule.clusterIP, mesh, direct, penalized);
    return match.entry.endpoints.map((e) => {
      const t = targets.find(
        (x) => x.id === `${e.addresses[0]}:${endpointPort(e, match.port.name, match.port.protocol)}`,
      );
      const meshPath = t?.node ? mesh.pathTo(t.node).path : 'none';
      const path = !t
        ? undefined
        : t.direct
          ? t.locality === 'local'
            ? 'local'
            : 'lan'
          : meshPath === 'none'
            ? 'mesh'
            : `mesh-${meshPath}`;
      return {
        address: e.addresses[0] ?? '',
        ...(t ? { port: t.port } : {}),
        ...(e.nodeName ? { node: e.nodeName } : {}),
        usable: !!t,
        ...(t ? { locality: t.locality, path, penalized: !!t.penalized } : {}),
        ...(t?.rttMs === undefined ? {} : { rttMs: Math.round(t.rttMs * 10) / 10 }),
      };
    });
  };

  return {
    ready,
    explain(namespace, name) {
      const service = `${namespace}/${name}`;
      const mine = [...ports.values()].filter((s) => s.service === service);
      if (!mine.length) return undefined;
      const all = this.status().ports;
      return {
        service,
        ports: mine.map((s) => ({
          ...(all[`${s.service} ${s.rule.clusterIP}:${s.rule.port}/${s.rule.protocol}`] as PortStatus),
          endpoints: explainPort(s),
        })),
      };
    },
    status() {
      const out: Record<string, PortStatus> = {};
      for (const s of ports.values()) {
        const b = balancers.get(s.balancerKey);
        out[`${s.service} ${s.rule.clusterIP}:${s.rule.port}/${s.rule.protocol}`] = {
          ...s.rule,
          policy: b?.balancer.policy ?? { simple: 'ROUND_ROBIN' },
          ...(b?.rule ? { rule: b.rule } : {}),
          ...(b?.affinity ? { affinityTimeoutS: b.affinity } : {}),
        };
      }
      return { backend: steering.backend, ports: out };
    },
    async start(signal) {
      // A previous run killed with -9 left its rules pointing at ports nobody listens on.
      await steering.clear();
      const rulesDone = components.rules?.start(signal);
      let chain = Promise.resolve();
      let queued = false;
      const kick = () => {
        if (queued || signal.aborted) return;
        queued = true;
        chain = chain.then(async () => {
          queued = false;
          if (signal.aborted) return;
          try {
            await sync();
          } catch (err) {
            log.error({ err }, 'proxy sync failed; retried on the next change');
          }
        });
      };
      catalog.onChange(kick);
      components.rules?.onChange(kick);
      if (await catalog.waitForSync(signal)) {
        kick();
        await chain;
        readyResolve();
      }
      await new Promise<void>((r) =>
        signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true }),
      );
      await chain;
      for (const s of ports.values()) closePort(s);
      ports.clear();
      await steering.clear().catch((err) => log.error({ err }, 'could not remove steering rules'));
      await rulesDone?.catch(() => {});
      log.info('service proxy stopped');
    },
  };
}
