/**
 * The mesh in the manifests, checked without a cluster: every `fedmesh mesh` command line in
 * deploy/*.yaml parses with the real flag specs, the GM sidecar advertises the port its hub listens
 * on, the LC node's forward is where the LC's mesh path points, the ConfigMap is a valid mesh config,
 * the PSK comes from a Secret that no manifest ships. (test/hub/deploy.test.ts applies them to a
 * real API server.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadAllYaml } from '@kubernetes/client-node';
import { type CommandSpec, resolve } from '../common/cli/command.ts';
import { gmCommand } from '../gm/command.ts';
import { lcCommand } from '../lc/command.ts';
import { meshCommand } from '../mesh/command.ts';
import { parseConfig } from '../mesh/config.ts';

interface Container {
  name: string;
  args: string[];
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  ports?: Array<{ name: string; containerPort: number; hostPort?: number }>;
}
interface PodSpec {
  hostNetwork?: boolean;
  containers: Container[];
  volumes: Array<{ name: string; configMap?: { name: string }; secret?: { secretName: string } }>;
}
interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { template?: { spec: PodSpec } };
  data?: Record<string, string>;
}

const load = (file: string) =>
  JSON.parse(JSON.stringify(loadAllYaml(readFileSync(join(import.meta.dirname, file), 'utf8')))) as Obj[];
const root: CommandSpec = { name: 'fedmesh', summary: '', subcommands: [meshCommand, lcCommand, gmCommand] };
const meshFlags = (c: Container) => resolve(root, c.args).ctx.flags as Record<string, unknown>;
const pod = (objs: Obj[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o?.spec?.template, `${kind} ${name}`);
  return o.spec.template.spec;
};
const container = (p: PodSpec, name: string) => {
  const c = p.containers.find((x) => x.name === name);
  assert.ok(c, `container ${name}`);
  return c;
};

/** The config and PSK a mesh container reads come from the ConfigMap and the Secret. */
function assertMeshVolumes(p: PodSpec, c: Container) {
  const f = meshFlags(c);
  const mountOf = (file: string) =>
    c.volumeMounts?.find((m) => file === m.mountPath || file.startsWith(`${m.mountPath}/`))?.name;
  const volume = (name: string | undefined) => p.volumes.find((v) => v.name === name);
  assert.equal(volume(mountOf(f.config as string))?.configMap?.name, 'fedmesh-mesh-config', `${c.name}: config`);
  assert.equal(volume(mountOf(f['psk-file'] as string))?.secret?.secretName, 'fedmesh-mesh-psk', `${c.name}: PSK`);
  assert.ok(mountOf(f['state-dir'] as string), `${c.name}: the state dir is a volume`);
}

test('deploy: the GM replica carries a mesh sidecar advertising fedmesh-gm on the hub port', () => {
  const p = pod(load('gm.yaml'), 'Deployment', 'gm');
  assert.equal(p.containers[0]?.name, 'gm', 'the GM stays the first container');
  const gm = container(p, 'gm');
  const mesh = container(p, 'mesh');
  const f = meshFlags(mesh);
  assert.deepEqual(f.advertise, [{ name: 'fedmesh-gm', port: 9000 }]);
  const ws = gm.args.find((a) => a.startsWith('--ws-listen='));
  assert.equal(ws?.split(':').at(-1), '9000', 'the advertised port is the hub port');
  assert.equal(f.node, '$(POD_NAME)', 'one mesh node per replica');
  assert.equal(f.forward, undefined);
  assertMeshVolumes(p, mesh);
  const keyMount = mesh.volumeMounts?.find((m) => (f['service-key-file'] as string).startsWith(`${m.mountPath}/`));
  assert.equal(
    p.volumes.find((v) => v.name === keyMount?.name)?.secret?.secretName,
    'fedmesh-gm-service-key',
    'the advertisement is endorsed with the key from its Secret',
  );
});

test('deploy: the LC node runs its mesh agent forwarding 127.0.0.1:19000 to @fedmesh-gm, where --mesh-gm points', () => {
  const p = pod(load('lc.yaml'), 'DaemonSet', 'lc');
  assert.equal(p.containers[0]?.name, 'lc');
  assert.equal(p.hostNetwork, true, 'the node identity and mDNS need the host network');
  const mesh = container(p, 'mesh');
  const f = meshFlags(mesh);
  assert.deepEqual(f.forward, [{ listenHost: '127.0.0.1', listenPort: 19000, service: 'fedmesh-gm' }]);
  assert.equal(f.node, '$(NODENAME)', "the node's one mesh identity");
  // The LC's own command line parses too (its --mesh-gm flag is the LC's).
  assert.doesNotThrow(() => resolve(root, container(p, 'lc').args));
  const meshGm = container(p, 'lc').args.find((a) => a.startsWith('--mesh-gm='));
  assert.ok(meshGm, 'the LC has a mesh path');
  const url = new URL(meshGm.slice('--mesh-gm='.length));
  assert.equal(url.hostname, '127.0.0.1');
  assert.equal(url.port, '19000');
  assertMeshVolumes(p, mesh);
});

test('deploy: the mesh ConfigMap is a valid mesh config with relayNodes; relays run the agent; no PSK in any manifest', async () => {
  const objs = load('mesh.yaml');
  const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'fedmesh-mesh-config');
  assert.equal(cm?.metadata.namespace, 'sedna');
  const cfg = await parseConfig(cm?.data?.['mesh.yaml'] ?? '', 'fedmesh-mesh-config');
  assert.ok((cfg.relayNodes?.length ?? 0) > 0, 'relayNodes configured as EdgeMesh users do');
  assert.equal(cfg.serviceKeys?.['fedmesh-gm']?.length, 1, 'LC nodes trust only endorsed GMs');
  const relay = pod(objs, 'DaemonSet', 'mesh-relay');
  assert.equal(relay.hostNetwork, true);
  assertMeshVolumes(relay, container(relay, 'mesh'));
  for (const file of ['gm.yaml', 'lc.yaml', 'mesh.yaml', 'gm-rbac.yaml']) {
    assert.equal(load(file).filter((o) => o.kind === 'Secret').length, 0, `${file} ships no Secret`);
  }
});

test('deploy: edge health is wired — GM flags, webhook port and TLS Secret; the LC node agent publishes with in-cluster access', async () => {
  const p = pod(load('gm.yaml'), 'Deployment', 'gm');
  const gm = container(p, 'gm') as Container & { ports: Array<{ name: string; containerPort: number }> };
  for (const flag of ['--health', '--health-zones']) assert.ok(gm.args.includes(flag), flag);
  assert.doesNotThrow(() => resolve(root, gm.args), 'the GM command line parses');
  const arg = (name: string) => gm.args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? '';
  const port = Number(arg('health-webhook-listen').split(':').at(-1));
  assert.equal(gm.ports.find((x) => x.name === 'health-webhook')?.containerPort, port);
  const health = load('health.yaml');
  const svc = health.find((o) => o.kind === 'Service') as unknown as { spec: { ports: Array<{ targetPort: number }> } };
  assert.equal(svc.spec.ports[0]?.targetPort, port, 'the webhook Service reaches the listen port');
  for (const file of [arg('health-webhook-cert'), arg('health-webhook-key')]) {
    const mount = gm.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
    assert.equal(p.volumes.find((v) => v.name === mount?.name)?.secret?.secretName, 'fedmesh-health-tls', file);
  }

  const lc = pod(load('lc.yaml'), 'DaemonSet', 'lc');
  const mesh = container(lc, 'mesh');
  const configFile = meshFlags(mesh).config as string;
  const cm = load('mesh.yaml').find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'fedmesh-mesh-config');
  const key = configFile.split('/').at(-1) as string;
  const edge = await parseConfig(cm?.data?.[key] ?? '', key);
  const shared = await parseConfig(cm?.data?.['mesh.yaml'] ?? '', 'mesh.yaml');
  assert.equal(edge.health?.publish?.namespace, 'sedna', "views go to the GM's health namespace (its lease namespace)");
  assert.deepEqual(edge.relayNodes, shared.relayNodes, 'edge.yaml keeps the shared relayNodes');
  assert.deepEqual(edge.serviceKeys, shared.serviceKeys, 'edge.yaml keeps the shared serviceKeys');
  assert.equal(shared.health, undefined, 'GM sidecars and relays run no health agent');
  assert.ok(
    mesh.volumeMounts?.some((m) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount'),
    'in-cluster API access for the agent',
  );
});

test('deploy: the LC node agent is ready for the service proxy — config sections (commented out), read access to Services, EndpointSlices and DestinationRules, NET_ADMIN in the host network', async () => {
  const objs = load('lc.yaml');
  const lc = pod(objs, 'DaemonSet', 'lc');
  assert.equal(lc.hostNetwork, true, 'nftables rules and ClusterIP traffic are the node’s');
  const mesh = container(lc, 'mesh') as Container & {
    securityContext?: { runAsUser?: number; capabilities?: { add?: string[]; drop?: string[] } };
  };
  assert.deepEqual(mesh.securityContext?.capabilities?.add, ['NET_ADMIN']);
  assert.deepEqual(mesh.securityContext?.capabilities?.drop, ['ALL']);
  assert.equal(mesh.securityContext?.runAsUser, 0, 'a non-root user gets no effective capability');
  const cm = load('mesh.yaml').find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'fedmesh-mesh-config');
  const key = (meshFlags(mesh).config as string).split('/').at(-1) as string;
  // Off in the file (the stock image has no nft): the commented sections, uncommented, are valid.
  const text = cm?.data?.[key] ?? '';
  assert.match(text, /^ {0,4}# services: \{\}\n *# proxy: \{\}$/m);
  const edge = await parseConfig(text.replace(/^( *)# (services|proxy): \{\}$/gm, '$1$2: {}'), key);
  assert.ok(edge.services && edge.proxy, 'services and proxy sections');
  assert.equal(edge.services.kubeconfig, undefined, 'in-cluster access');

  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
  const role = objs.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'fedmesh-mesh-services') as
    | (Obj & { rules: Rule[] })
    | undefined;
  const binding = objs.find((o) => o.kind === 'ClusterRoleBinding' && o.metadata.name === 'fedmesh-mesh-services') as
    | (Obj & { roleRef: { name: string }; subjects: Array<{ kind: string; name: string; namespace: string }> })
    | undefined;
  assert.equal(binding?.roleRef.name, 'fedmesh-mesh-services');
  const sa = objs.find((o) => o.kind === 'ServiceAccount');
  assert.deepEqual(binding?.subjects, [
    { kind: 'ServiceAccount', name: sa?.metadata.name, namespace: sa?.metadata.namespace },
  ]);
  for (const [group, resource] of [
    ['', 'services'],
    ['discovery.k8s.io', 'endpointslices'],
    ['networking.istio.io', 'destinationrules'],
  ] as const) {
    const rule = role?.rules.find((r) => r.apiGroups.includes(group) && r.resources.includes(resource));
    assert.deepEqual(rule?.verbs, ['get', 'list', 'watch'], `${group}/${resource}: read only`);
  }
});
