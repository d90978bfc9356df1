/**
 * Helpers for the hub integration tests: LC credentials minted by the real control plane, Sedna
 * objects, and in-process LCs (the real lc/ code with a memory store) for tests that need many.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { createKubeRest, type KubeRest } from '../../common/kube/rest.ts';
import type { Kind } from '../../common/wire/index.ts';
import { API_VERSION, kindDefinition } from '../../crds/index.ts';
import { exampleObject } from '../../examples/index.ts';
import { createLc, type Lc } from '../../lc/index.ts';
import type { StoreOp } from '../../lc/store/types.ts';
import type { ControlPlane } from '../envtest/index.ts';

/**
 * `fedmesh gm` flags for hub tests: no operators, so what the tests see in status is what LCs
 * reported (the operators are tested on their own).
 */
export const HUB_ONLY = ['--no-operators'];

export const quietLog = () => pino({ level: process.env.FEDMESH_TEST_LOG ?? 'silent' });

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `pred` every 50 ms until it holds; throws with `what` after `ms`. */
export async function until(what: string, ms: number, pred: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await pred())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

export async function adminRest(plane: ControlPlane): Promise<KubeRest> {
  return createKubeRest(plane.kubeConfig());
}

/** A token (audience fedmesh) of the per-node ServiceAccount `lc-<node>` in `ns`, created if missing. */
export async function nodeToken(rest: KubeRest, ns: string, node: string): Promise<string> {
  await rest
    .request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { body: { metadata: { name: `lc-${node}` } } })
    .catch((err: { status?: number }) => {
      if (err.status !== 409) throw err;
    });
  return saToken(rest, ns, `lc-${node}`);
}

export async function saToken(rest: KubeRest, ns: string, sa: string, boundPod?: { name: string; uid: string }) {
  const body = {
    spec: {
      audiences: ['fedmesh'],
      expirationSeconds: 3600,
      ...(boundPod ? { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', ...boundPod } } : {}),
    },
  };
  const tr = await rest.request<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`,
    { body },
  );
  return tr.status.token;
}

/** What the LC DaemonSet's pod gets: a token of SA `lc` bound to a pod scheduled on `node`. */
export async function daemonSetToken(rest: KubeRest, ns: string, node: string): Promise<string> {
  await rest
    .request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { body: { metadata: { name: 'lc' } } })
    .catch((err: { status?: number }) => {
      if (err.status !== 409) throw err;
    });
  const pod = await rest.request<{ metadata: { name: string; uid: string } }>('POST', `/api/v1/namespaces/${ns}/pods`, {
    body: {
      metadata: { name: `lc-${node}-${randomBytes(3).toString('hex')}` },
      spec: {
        serviceAccountName: 'lc',
        nodeName: node,
        automountServiceAccountToken: false,
        containers: [{ name: 'lc', image: 'fedmesh' }],
      },
    },
  });
  return saToken(rest, ns, 'lc', { name: pod.metadata.name, uid: pod.metadata.uid });
}

export const objectsUrl = (ns: string, kind: Kind, name?: string) =>
  `/apis/${API_VERSION}/namespaces/${ns}/${kindDefinition(kind).plural}${name ? `/${name}` : ''}`;

export async function create(rest: KubeRest, ns: string, kind: Kind, obj: Record<string, unknown>) {
  return rest.request<Record<string, unknown> & { metadata: { resourceVersion: string } }>(
    'POST',
    objectsUrl(ns, kind),
    { body: { apiVersion: API_VERSION, kind, ...obj } },
  );
}

export async function get<T = Record<string, unknown>>(rest: KubeRest, ns: string, kind: Kind, name: string) {
  return rest.request<T & { metadata: { resourceVersion: string }; status?: Record<string, unknown> }>(
    'GET',
    objectsUrl(ns, kind, name),
  );
}

export async function mergePatch(rest: KubeRest, ns: string, kind: Kind, name: string, patch: unknown, sub = '') {
  return rest.request('PATCH', objectsUrl(ns, kind, name) + sub, {
    body: patch,
    contentType: 'application/merge-patch+json',
  });
}

export const dataset = (name: string, node: string) => ({
  metadata: { name },
  spec: { url: `/data/${name}`, format: 'txt', nodeName: node },
});

/** An IncrementalLearningJob (Sedna's helmet example) reading `datasetName`, optionally with stage-node annotations. */
export function incrementalJob(name: string, datasetName: string, annotations?: Record<string, string>) {
  const o = exampleObject('IncrementalLearningJob/helmet-detection-demo') as {
    metadata: Record<string, unknown>;
    spec: { dataset: { name: string } };
  };
  o.metadata = { name, ...(annotations ? { annotations } : {}) };
  o.spec.dataset.name = datasetName;
  return o;
}

/** Writes the first stage condition, as the GM's operator does; Sedna routes IL jobs only from then on. */
export async function startIncrementalJob(rest: KubeRest, ns: string, name: string) {
  const now = new Date().toISOString();
  await mergePatch(
    rest,
    ns,
    'IncrementalLearningJob',
    name,
    { status: { conditions: [{ type: 'Waiting', status: 'True', stage: 'Train', lastTransitionTime: now }] } },
    '/status',
  );
}

export const federatedJob = (name: string, nodes: string[]) => ({
  metadata: { name },
  spec: {
    aggregationWorker: {
      model: { name: 'fl-model' },
      template: { spec: { containers: [{ name: 'agg', image: 'x' }] } },
    },
    trainingWorkers: nodes.map((n) => ({
      dataset: { name: `ds-${n}` },
      template: { spec: { nodeName: n, containers: [{ name: 'train', image: 'x' }] } },
    })),
  },
});

/** An in-process LC (the real lc/ code, memory store) with a log of what it applied and when. */
export interface TestLc {
  node: string;
  lc: Lc;
  ac: AbortController;
  done: Promise<void>;
  /** Every applied op with performance.now() at commit. */
  applied: Array<{ at: number; op: StoreOp }>;
  /** Every welcome: replica and performance.now(). */
  welcomes: Array<{ at: number; replica: string }>;
  closes: Array<{ at: number; code: number }>;
  keys(): string[];
  stop(): Promise<void>;
}

export function startTestLc(node: string, endpoints: string[], token: string | undefined): TestLc {
  const applied: TestLc['applied'] = [];
  const welcomes: TestLc['welcomes'] = [];
  const closes: TestLc['closes'] = [];
  const lc = createLc(
    { node, endpoints, backoffMinMs: 50, backoffMaxMs: 500 },
    {
      log: quietLog(),
      token: () => token,
      observer: {
        welcome: (w) => welcomes.push({ at: performance.now(), replica: w.replica }),
        applied: (ops) => {
          const at = performance.now();
          for (const op of ops) applied.push({ at, op });
        },
        closed: (code) => closes.push({ at: performance.now(), code }),
      },
    },
  );
  const ac = new AbortController();
  const done = lc.start(ac.signal);
  return {
    node,
    lc,
    ac,
    done,
    applied,
    welcomes,
    closes,
    keys: () => lc.store.listObjects().map((o) => `${o.kind}/${o.name}`),
    async stop() {
      ac.abort();
      await done;
    },
  };
}

/** A bare fedmesh client: hello, then records frames and the close; nothing else (no acks, no reconnects). */
export async function rawFedmesh(url: string, node: string, token: string | undefined) {
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(url, ['fedmesh.v1'], { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const frames: Array<Record<string, unknown>> = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on('error', () => {});
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise<void>((resolve) => {
    ws.once('open', () => resolve());
    ws.once('close', () => resolve());
  });
  const send = (f: unknown) => ws.send(typeof f === 'string' ? f : JSON.stringify(f));
  if (ws.readyState === ws.OPEN) {
    send({ type: 'hello', node, lcVersion: 'test', instance: 'raw', stream: null, lastDownstreamSeq: 0, credit: 1000 });
  }
  return { ws, frames, closed, send };
}

/** A WebSocket upgrade request as raw bytes (a fixed key: these tests do not check the accept value). */
export function upgradeRequest(headers: Record<string, string>, version = '13'): string {
  const lines = [
    'GET / HTTP/1.1',
    'Host: gm',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Version: ${version}`,
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n`;
}
