/**
 * `fedmesh mesh`: runs one mesh node. Flags override the config file; the file is watched and
 * reloaded (also on SIGHUP) for relay changes. SIGTERM/SIGINT stop it cleanly (exit 0).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import type { Server } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { command } from '../common/cli/command.ts';
import { shutdownSignal } from '../common/cli/shutdown.ts';
import { parseDuration } from '../common/duration.ts';
import { ConfigError } from '../common/errors.ts';
import { loadClusterAccess } from '../common/kube/access.ts';
import { createKubeRest } from '../common/kube/rest.ts';
import { createLogger } from '../common/log.ts';
import { createRegistry, registerProcessMetrics } from '../common/metrics.ts';
import { limitsFromFlags, listenerLimitFlags } from '../common/net/flags.ts';
import { DEFAULT_HTTP_LIMITS } from '../common/net/guard.ts';
import { generateServiceKey, loadServiceKey, parsePublicKey } from './advertise/endorse.ts';
import { type AdvertisedServiceConfig, parseAdvertise, resolveAdvertised } from './advertise/service.ts';
import { loadConfig, type MeshConfig, watchConfig } from './config.ts';
import { DEFAULT_LISTEN_PORT } from './constants.ts';
import { createServiceAgent } from './dns/agent.ts';
import { type ForwardSpec, parseForward, startForward } from './forward.ts';
import { resolveHealthConfig } from './health/config.ts';
import { buildMeshServer } from './http.ts';
import { createMeshNode } from './node.ts';
import { createKeyRing, DEFAULT_PSK_ROTATION_WINDOW_MS } from './pnet/keyring.ts';
import { generatePsk, readPskKeysFile } from './pnet/psk.ts';
import { watchPskFile } from './pnet/psk-watch.ts';
import { createProxyAgent, type ServiceProxy } from './proxy/index.ts';
import { kubeRecordStore } from './records/kube-store.ts';
import { NODE_NAME } from './records/record.ts';

function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new ConfigError(`expected HOST:PORT, got "${text}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export const meshCommand = command({
  name: 'mesh',
  summary: 'run a mesh node (libp2p tunnel with relay HA, LAN autonomy and cross-LAN discovery)',
  flags: {
    config: {
      description: 'YAML or JSON config (relayNodes, pskFile, listen, mdns, ...); watched for changes',
      value: 'FILE',
    },
    node: { description: "this node's name (default: config nodeName, then the hostname)", value: 'NAME' },
    'state-dir': { description: 'identity key and known-node pins (default: config stateDir)', value: 'DIR' },
    'psk-file': { description: 'PSK v1 swarm key file (default: config pskFile)', value: 'FILE' },
    listen: {
      description: `TCP listen address (default: config listen, then 0.0.0.0:${DEFAULT_LISTEN_PORT})`,
      value: 'HOST:PORT',
      parse: parseHostPort,
    },
    forward: {
      description:
        'forward a local port into tunnels; TARGET is node:host:port (that node dials host:port) or @SERVICE (any node advertising it)',
      value: '[HOST:]PORT=TARGET',
      multiple: true,
      parse: parseForward,
    },
    advertise: {
      description: 'advertise a service this node fronts (added to config advertise; host default 127.0.0.1)',
      value: 'NAME=[HOST:]PORT',
      multiple: true,
      parse: parseAdvertise,
    },
    'service-key-file': {
      description: 'Ed25519 key (PEM) endorsing the services this node advertises (default: config serviceKeyFile)',
      value: 'FILE',
    },
    'http-listen': { description: '/healthz, /readyz, /metrics, /status', value: 'HOST:PORT', parse: parseHostPort },
    ...listenerLimitFlags('http-', 'HTTP endpoint', DEFAULT_HTTP_LIMITS),
    'no-mdns': { description: 'disable mDNS (overrides the config)', type: 'boolean' },
    'generate-psk': { description: 'write a new PSK file and exit', value: 'FILE' },
    'generate-service-key': {
      description: 'write a new service key (PEM, 0600), print its public key (for serviceKeys) and exit',
      value: 'FILE',
    },
  },
  details: [
    'Example: fedmesh mesh --config /etc/fedmesh/mesh.yaml --node edge-a1 --forward 8022=edge-b1:127.0.0.1:22',
    'GM side: --advertise fedmesh-gm=9000; LC side: --forward 127.0.0.1:19000=@fedmesh-gm.',
    'Tunnel targets on this node are limited to tunnel.allow (default: loopback only).',
  ].join('\n'),
  async run({ flags: f }) {
    if (f['generate-psk']) {
      await writeFile(f['generate-psk'], generatePsk(), { mode: 0o600, flag: 'wx' });
      return 0;
    }
    if (f['generate-service-key']) {
      process.stdout.write(`${await generateServiceKey(f['generate-service-key'])}\n`);
      return 0;
    }
    const cfg: MeshConfig = f.config ? await loadConfig(f.config) : {};
    const name = f.node ?? cfg.nodeName ?? hostname().toLowerCase();
    if (!NODE_NAME.test(name)) throw new ConfigError(`node name "${name}" is not a DNS-1123 subdomain`);
    const stateDir = f['state-dir'] ?? cfg.stateDir;
    if (!stateDir) throw new ConfigError('a state directory is required (--state-dir or stateDir)');
    const pskFile = f['psk-file'] ?? cfg.pskFile;
    if (!pskFile) throw new ConfigError('a PSK file is required (--psk-file or pskFile)');
    const windowOf = (c: MeshConfig) =>
      c.pskRotationWindow ? parseDuration(c.pskRotationWindow) : DEFAULT_PSK_ROTATION_WINDOW_MS;
    const pskKeys = await readPskKeysFile(pskFile);
    const listen =
      f.listen ?? (cfg.listen ? parseHostPort(cfg.listen) : { host: '0.0.0.0', port: DEFAULT_LISTEN_PORT });

    // Flags add to the file's advertise list (the file's entries stay hot-reloadable).
    const flagAdvertise: AdvertisedServiceConfig[] = f.advertise ?? [];
    const advertiseOf = (c: MeshConfig) => resolveAdvertised([...flagAdvertise, ...(c.advertise ?? [])]);
    const advertise = advertiseOf(cfg);
    const keyFile = f['service-key-file'] ?? cfg.serviceKeyFile;
    const serviceKey = keyFile ? await loadServiceKey(keyFile) : undefined;
    const trustOf = (c: MeshConfig) =>
      Object.fromEntries(Object.entries(c.serviceKeys ?? {}).map(([s, keys]) => [s, keys.map(parsePublicKey)]));
    const forwardSpecs: ForwardSpec[] = [...(cfg.forward ?? []).map(parseForward), ...(f.forward ?? [])];

    const log = createLogger({ component: 'mesh', node: name });
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    // Records in Node annotations too, so names resolve through relays that run nothing of ours.
    const recordRest = cfg.nodeRecords
      ? await createKubeRest(loadClusterAccess(cfg.nodeRecords.kubeconfig).access)
      : undefined;
    // Several keys while a PSK rotates (pnet/keyring.ts); the file is followed without a restart.
    const psk = createKeyRing({
      keys: pskKeys,
      windowMs: windowOf(cfg),
      statePath: join(stateDir, 'psk-retired.json'),
      log,
    });
    const pskWatch = watchPskFile(pskFile, psk, log);
    const onHup = () => void pskWatch.reload('SIGHUP');
    process.on('SIGHUP', onHup);
    const stopExtras = () => {
      recordRest?.close();
      process.off('SIGHUP', onHup);
      pskWatch.close();
      psk.close();
    };
    const registry = createRegistry();
    registerProcessMetrics(registry);
    // Start-up failures stop what already runs, as a signal would.
    const ac = new AbortController();
    const shutdown = AbortSignal.any([shutdownSignal(log), ac.signal]);

    // A start-up failure stops the PSK watch too.
    const node = await createMeshNode(
      {
        name,
        stateDir,
        psk,
        listen: [listen],
        announce: cfg.announce,
        relayNodes: cfg.relayNodes,
        mdns: f['no-mdns'] ? false : (cfg.mdns ?? true),
        dhtBootstrap: cfg.dhtBootstrap,
        reservations: cfg.reservations,
        dialPort: cfg.dialPort,
        tunnelAllow: cfg.tunnel?.allow,
        zone: cfg.zone,
        health: cfg.health ? resolveHealthConfig(cfg.health, 'health') : undefined,
        advertise,
        serviceKey,
        serviceKeys: trustOf(cfg),
        recordStore: recordRest ? kubeRecordStore(recordRest, log) : undefined,
      },
      { log, registry },
    ).catch((err: unknown) => {
      stopExtras();
      throw err;
    });
    let ready = false;
    const http = f['http-listen']
      ? buildMeshServer({ node, registry, log, ready: () => ready, proxy: () => proxy }, limitsFromFlags(f, 'http-'))
      : undefined;
    if (http && f['http-listen']) await http.listen(f['http-listen']);
    const running = node.start(shutdown);
    // Service discovery and the node-local DNS (mesh/dns/agent.ts) when configured, under the same signal.
    let servicesRunning: Promise<void> | undefined;
    let proxy: ServiceProxy | undefined;
    let proxyRunning: Promise<void> | undefined;
    const forwards: Server[] = [];
    try {
      const services = await createServiceAgent({ services: cfg.services, dns: cfg.dns }, { log, registry });
      servicesRunning = services?.start(shutdown);
      // Marked handled here; awaited below, where a failure to start is reported.
      servicesRunning?.catch(() => {});
      // The ClusterIP proxy (mesh/proxy) over the same catalog, under the same signal.
      if (cfg.proxy && !services?.catalog) throw new ConfigError('proxy needs the services section');
      proxy =
        cfg.proxy && services?.catalog
          ? await createProxyAgent(cfg.proxy, {
              catalog: services.catalog,
              mesh: node,
              kubeconfig: cfg.services?.kubeconfig,
              clusterDomain: cfg.services?.clusterDomain,
              log,
              registry,
            })
          : undefined;
      proxyRunning = proxy?.start(shutdown);
      proxyRunning?.catch(() => {});
      await services?.ready;
      await node.ready;
      ready = true;
      for (const spec of forwardSpecs) forwards.push(await startForward(spec, node, { log, registry }));
    } catch (err) {
      ac.abort();
      await running.catch(() => {});
      await servicesRunning?.catch(() => {});
      await proxyRunning?.catch(() => {});
      await http?.close();
      stopExtras();
      throw err;
    }
    const watching = f.config
      ? watchConfig(
          f.config,
          cfg,
          (next) => {
            let nextAdvertise: typeof advertise;
            try {
              nextAdvertise = advertiseOf(next);
            } catch (err) {
              // E.g. the file now names a service a flag also names: keep what runs.
              log.error({ err: (err as Error).message, code: 'ERR_CONFIG' }, 'advertise not reloaded: invalid');
              nextAdvertise = advertiseOf({});
            }
            void pskWatch.reload('configuration reloaded', windowOf(next));
            node.reconfigure({
              relayNodes: next.relayNodes ?? [],
              tunnelAllow: next.tunnel?.allow,
              dhtBootstrap: next.dhtBootstrap ?? [],
              health: next.health ? resolveHealthConfig(next.health, 'health') : null,
              advertise: nextAdvertise,
              serviceKeys: trustOf(next),
            });
          },
          log,
          shutdown,
        )
      : Promise.resolve();
    await running;
    await servicesRunning;
    await proxyRunning;
    await watching;
    stopExtras();
    for (const s of forwards) s.close();
    await http?.close();
    return 0;
  },
});
