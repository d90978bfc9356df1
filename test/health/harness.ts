/**
 * Simulated edge nodes for the health tests, against the real control plane: each has a Node
 * object, a node Lease the harness renews while its cloud link is up (the kubelet's heartbeat, as
 * the node lifecycle controller reads it), pods whose status the harness writes as the kubelet
 * would, and an Ed25519 key with which it signs health views as the node agent does, written to
 * its views ConfigMap by the agent's own publisher (mesh/health/publisher.ts) — its own view and
 * the fresh views of the zone peers it can reach. Links between nodes are a matrix the test cuts.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { sleep } from '../../common/async.ts';
import type { KubeObject } from '../../common/kube/objects.ts';
import type { KubeRest } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import { createViewPublisher, type ViewPublisher } from '../../mesh/health/publisher.ts';
import { type HealthView, type SignedView, signView } from '../../mesh/health/view.ts';

export const ZONE_LABEL = 'fedmesh.io/topology-zone';

/** Grace period of the node lifecycle controller in the health tests and benchmark. */
export const GRACE = '5s';
/** kube-controller-manager flags of the health tests and benchmark: a node lifecycle in seconds. */
export const CONTROLLER_ARGS = [
  '--node-monitor-period=1s',
  `--node-monitor-grace-period=${GRACE}`,
  `--node-startup-grace-period=${GRACE}`,
  // One node a second per zone (default 0.1): evictions in the tests are not queued behind each other.
  '--node-eviction-rate=100',
  // A zone is "partially disrupted" (no evictions at all below 50 nodes) only when every node is
  // NotReady: the tests cut most of a small cluster, which Kubernetes would otherwise refuse to evict.
  '--unhealthy-zone-threshold=1',
];

export interface SimNode {
  name: string;
  zone: string;
  key: PrivateKey;
  peerId: string;
  epoch: number;
  seq: number;
  /** Cloud link up: the node Lease is renewed and the views ConfigMap written. */
  cloud: boolean;
  /** Forced verdicts (a lying agent): subject → state. */
  lies: Map<string, 'healthy' | 'unhealthy'>;
  /** Verdicts on nodes outside its zone (an out-of-zone view). */
  foreign: string[];
  last?: SignedView;
  /** Every view it signed, oldest first (to replay). */
  history: SignedView[];
  publisher: ViewPublisher;
}

export interface Cluster {
  nodes: Map<string, SimNode>;
  /** Cuts or restores the mesh link between two nodes (both directions). */
  link(a: string, b: string, up: boolean): void;
  linked(a: string, b: string): boolean;
  /** Cuts or restores a node's cloud link. */
  cloud(name: string, up: boolean): void;
  /** Cuts a node from every peer (or restores all its links). */
  isolate(name: string, up: boolean): void;
  /** Creates a pod bound to `node`, Running and Ready as its kubelet would report. */
  pod(namespace: string, node: string, name: string, app: string, tolerationSeconds: number): Promise<void>;
  stop(): Promise<void>;
}

const now = () => new Date().toISOString();
const micro = () => new Date().toISOString().replace('Z', '000Z');

export async function nodeObject(rest: KubeRest, name: string, labels: Record<string, string>): Promise<void> {
  await rest.request('POST', '/api/v1/nodes', { body: { metadata: { name, labels } } });
  await setReady(rest, name, true);
}

const NODE_RESOURCES = { cpu: '4', memory: '8Gi', pods: '110' };

export async function setReady(rest: KubeRest, name: string, ready: boolean): Promise<void> {
  const t = now();
  await rest.request('PATCH', `/api/v1/nodes/${name}/status`, {
    contentType: 'application/merge-patch+json',
    body: {
      status: {
        // Room for pods, or kube-scheduler finds no node that fits.
        capacity: NODE_RESOURCES,
        allocatable: NODE_RESOURCES,
        conditions: [
          {
            type: 'Ready',
            status: ready ? 'True' : 'False',
            reason: 'KubeletReady',
            message: 'simulated',
            lastHeartbeatTime: t,
            lastTransitionTime: t,
          },
        ],
      },
    },
  });
}

/** The kubelet's heartbeat: the node Lease renewed now. */
export async function renewLease(rest: KubeRest, name: string): Promise<void> {
  const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`;
  const body = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace: 'kube-node-lease' },
    spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: micro() },
  };
  await rest.request('PATCH', path, {
    body,
    contentType: 'application/apply-patch+yaml',
    query: { fieldManager: 'sim-kubelet', force: true },
  });
}

/**
 * Starts `names` in `zone` (plus their Node objects), all linked, all with a cloud link, signing a
 * view every `periodMs` and writing it to `namespace`.
 */
export async function startCluster(
  rest: KubeRest,
  init: {
    namespace: string;
    zone: string;
    names: string[];
    periodMs: number;
    extraLabels?: Record<string, string>;
    /** Publish views (default true); false: nodes with no node agent, Kubernetes alone. */
    views?: boolean;
  },
): Promise<Cluster> {
  const log = createLogger({ component: 'sim', level: 'silent' });
  const nodes = new Map<string, SimNode>();
  const cut = new Set<string>();
  const pair = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);
  for (const name of init.names) {
    const key = await generateKeyPair('Ed25519');
    const node: SimNode = {
      name,
      zone: init.zone,
      key,
      peerId: peerIdFromPrivateKey(key).toString(),
      epoch: 1,
      seq: 0,
      cloud: true,
      lies: new Map(),
      foreign: [],
      history: [],
      publisher: undefined as unknown as ViewPublisher,
    };
    node.publisher = createViewPublisher(
      { node: name, namespace: init.namespace, periodMs: () => init.periodMs },
      {
        rest,
        log,
        views: () => {
          const peers = new Map<string, Uint8Array>();
          for (const m of nodes.values()) {
            if (m !== node && m.last && !cut.has(pair(name, m.name))) peers.set(m.name, m.last.bytes);
          }
          return { own: node.last?.bytes, peers };
        },
      },
    );
    nodes.set(name, node);
    await nodeObject(rest, name, { [ZONE_LABEL]: init.zone, ...init.extraLabels });
    await renewLease(rest, name);
  }

  const sign = async (n: SimNode) => {
    const verdicts: HealthView['verdicts'] = {};
    for (const m of nodes.values()) {
      if (m === n) continue;
      const up = !cut.has(pair(n.name, m.name));
      verdicts[m.name] = { state: n.lies.get(m.name) ?? (up ? 'healthy' : 'unhealthy'), lastOkAt: null };
    }
    for (const f of n.foreign) verdicts[f] = { state: 'unhealthy', lastOkAt: null };
    const view: HealthView = {
      v: 1,
      voter: n.name,
      peerId: n.peerId,
      epoch: n.epoch,
      seq: n.seq++,
      time: Date.now(),
      zone: n.zone,
      verdicts,
    };
    n.last = await signView(view, n.key);
    n.history.push(n.last);
  };

  const ac = new AbortController();
  const loop = (async () => {
    while (!ac.signal.aborted) {
      await Promise.all([...nodes.values()].map(sign));
      await Promise.all(
        [...nodes.values()]
          .filter((n) => n.cloud)
          .map(async (n) => {
            await renewLease(rest, n.name).catch(() => {});
            if (init.views !== false) await n.publisher.publishOnce(ac.signal).catch(() => {});
          }),
      );
      await sleep(init.periodMs, ac.signal);
    }
  })();

  const c: Cluster = {
    nodes,
    link(a, b, up) {
      if (up) cut.delete(pair(a, b));
      else cut.add(pair(a, b));
    },
    linked: (a, b) => !cut.has(pair(a, b)),
    cloud(name, up) {
      const n = nodes.get(name);
      if (!n) throw new Error(`no node ${name}`);
      n.cloud = up;
      if (up) void setReady(rest, name, true);
    },
    isolate(name, up) {
      for (const m of nodes.keys()) if (m !== name) c.link(name, m, up);
    },
    pod: (namespace, node, name, app, tolerationSeconds) =>
      runningPod(rest, namespace, node, name, app, tolerationSeconds),
    async stop() {
      ac.abort();
      await loop;
      await Promise.all([...nodes.keys()].map((n) => rest.request('DELETE', `/api/v1/nodes/${n}`).catch(() => {})));
    },
  };
  return c;
}

/** The Node as the API has it now. */
export const getNode = (rest: KubeRest, name: string) => rest.request<KubeObject>('GET', `/api/v1/nodes/${name}`);

/** Polls `fn` every 200 ms until it returns a value other than undefined, or throws after `ms`. */
export async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(200);
  }
}

/** As deploy/health.yaml, with one entry per replica (their URLs) instead of one Service. */
export async function registerWebhooks(rest: KubeRest, dir: string, ports: number[]): Promise<void> {
  const caBundle = readFileSync(join(dir, 'ca.crt')).toString('base64');
  const common = { failurePolicy: 'Ignore', sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds: 5 };
  const webhooks = ports.flatMap((port, i) => [
    {
      ...common,
      name: `nodes-${i}.health.fedmesh.io`,
      clientConfig: { url: `https://127.0.0.1:${port}/mutate/nodes`, caBundle },
      rules: [{ operations: ['UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['nodes'], scope: 'Cluster' }],
      matchConditions: [
        {
          name: 'adds-eviction-taint',
          expression:
            "has(object.spec.taints) && object.spec.taints.exists(t, t.effect == 'NoExecute' && (t.key == 'node.kubernetes.io/unreachable' || t.key == 'node.kubernetes.io/not-ready'))",
        },
      ],
    },
    {
      ...common,
      name: `pods-${i}.health.fedmesh.io`,
      clientConfig: { url: `https://127.0.0.1:${port}/mutate/pod-status`, caBundle },
      rules: [
        {
          operations: ['UPDATE'],
          apiGroups: [''],
          apiVersions: ['v1'],
          resources: ['pods/status'],
          scope: 'Namespaced',
        },
      ],
      matchConditions: [
        {
          name: 'node-lifecycle-controller',
          expression:
            "request.userInfo.username in ['system:serviceaccount:kube-system:node-controller', 'system:kube-controller-manager']",
        },
      ],
    },
  ]);
  await rest.request('POST', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', {
    body: { metadata: { name: 'fedmesh-health' }, webhooks },
  });
}

/** A pod bound to `node`, Running and Ready as its kubelet would report, tolerating the silence taints `tolerationSeconds`. */
export async function runningPod(
  rest: KubeRest,
  namespace: string,
  node: string,
  name: string,
  app: string,
  tolerationSeconds: number,
): Promise<void> {
  const tol = (key: string) => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds });
  await rest.request('POST', `/api/v1/namespaces/${namespace}/pods`, {
    body: {
      metadata: { name, labels: { app } },
      spec: {
        nodeName: node,
        containers: [{ name: 'c', image: 'example.invalid/app:1' }],
        tolerations: [tol('node.kubernetes.io/unreachable'), tol('node.kubernetes.io/not-ready')],
        terminationGracePeriodSeconds: 0,
      },
    },
  });
  const ip = `10.244.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  const t = now();
  await rest.request('PATCH', `/api/v1/namespaces/${namespace}/pods/${name}/status`, {
    contentType: 'application/merge-patch+json',
    body: {
      status: {
        phase: 'Running',
        podIP: ip,
        podIPs: [{ ip }],
        conditions: [
          { type: 'PodScheduled', status: 'True', lastTransitionTime: t },
          { type: 'Initialized', status: 'True', lastTransitionTime: t },
          { type: 'ContainersReady', status: 'True', lastTransitionTime: t },
          { type: 'Ready', status: 'True', lastTransitionTime: t },
        ],
      },
    },
  });
}
