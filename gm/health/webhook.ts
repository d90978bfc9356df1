/**
 * The mutating admission webhook every GM replica serves over TLS (failurePolicy Ignore: a GM
 * outage never blocks a Node or Pod write; deploy/health.yaml). It applies the cloud's
 * half of the decision table where Kubernetes acts, at the moment it acts:
 *
 * - Node updates: while the node's decision (annotation `fedmesh.io/health`, fresh) is `healthy`,
 *   the NoExecute `node.kubernetes.io/unreachable` / `not-ready` taints are taken out of the write,
 *   so the taint eviction controller never schedules an eviction; NoSchedule taints pass.
 * - Pod status updates by the node lifecycle controller that turn `Ready` False: while the pod's
 *   node is protected, the Ready condition keeps its previous value, so the pod stays `ready: true`
 *   in its EndpointSlices. The kubelet's own writes always pass.
 *
 * The webhook decides from the object written (Node) or one GET of the Node (Pod); it writes nothing.
 */
import { readFileSync } from 'node:fs';
import Fastify, { LogController } from 'fastify';
import type { KubeObject } from '../../common/kube/objects.ts';
import { isStatus, type KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import { DECISION_ANNOTATION, DEFAULT_CONTROLLER_USERS } from './constants.ts';
import { isSilenceEviction } from './controller.ts';
import { parseDecision, protects } from './decide.ts';
import type { HealthWebhookInit } from './types.ts';

/** An AdmissionReview body may carry a whole Node (image lists): well above fastify's 1 MiB default. */
const BODY_LIMIT = 8 * 1024 * 1024;
/** The apiserver waits at most the webhook's timeoutSeconds (5 s); one Node GET must fit well inside. */
const NODE_GET_TIMEOUT_MS = 2_000;

export const NODE_PATH = '/mutate/nodes';
export const POD_STATUS_PATH = '/mutate/pod-status';

const reviewSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { const: 'admission.k8s.io/v1' },
    kind: { const: 'AdmissionReview' },
    request: {
      type: 'object',
      required: ['uid', 'operation'],
      properties: {
        uid: { type: 'string', maxLength: 128 },
        operation: { type: 'string' },
        subResource: { type: 'string' },
        userInfo: { type: 'object', properties: { username: { type: 'string' } } },
        object: { type: 'object' },
        oldObject: { type: ['object', 'null'] },
      },
    },
  },
} as const;

interface Review {
  request: {
    uid: string;
    operation: string;
    subResource?: string;
    userInfo?: { username?: string };
    object?: KubeObject;
    oldObject?: KubeObject | null;
  };
}

type Op = { op: string; path: string; value?: unknown };

const answer = (uid: string, patch?: Op[]) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  response: {
    uid,
    allowed: true,
    ...(patch?.length ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}),
  },
});

export interface WebhookComponents {
  rest: KubeRest;
  log: Logger;
  registry?: Registry;
  wall?: () => number;
}

/** Node update: the patch that keeps the silence-eviction taints off, or undefined. */
export function nodePatch(node: KubeObject | undefined, now: number, staleMs: number): Op[] | undefined {
  const taints: { key: string; effect: string }[] = node?.spec?.taints ?? [];
  if (!node || !taints.some(isSilenceEviction)) return undefined;
  if (!protects(parseDecision(node.metadata.annotations?.[DECISION_ANNOTATION]), now, staleMs)) return undefined;
  return [{ op: 'replace', path: '/spec/taints', value: taints.filter((t) => !isSilenceEviction(t)) }];
}

type Condition = { type: string; status: string };
const readyOf = (p: KubeObject | null | undefined) => {
  const conds: Condition[] = p?.status?.conditions ?? [];
  const i = conds.findIndex((c) => c.type === 'Ready');
  return { i, cond: conds[i] };
};

/** Pod status update turning Ready False: the patch that keeps the old Ready condition, or undefined. */
export function podReadyPatch(pod: KubeObject | undefined, old: KubeObject | null | undefined): Op[] | undefined {
  const now = readyOf(pod);
  const before = readyOf(old);
  if (now.cond?.status !== 'False' || before.cond?.status !== 'True') return undefined;
  return [{ op: 'replace', path: `/status/conditions/${now.i}`, value: before.cond }];
}

export function buildHealthWebhook(init: HealthWebhookInit & { staleMs: number }, c: WebhookComponents) {
  const log = c.log.child({ component: 'gm.health.webhook' });
  const wall = c.wall ?? Date.now;
  const users = new Set(init.controllerUsers ?? DEFAULT_CONTROLLER_USERS);
  const mutations = c.registry?.counter(
    'fedmesh_gm_health_webhook_mutations_total',
    'Writes the health webhook changed, by kind (node taint kept off, pod kept ready)',
  );
  const app = Fastify({
    https: { cert: readFileSync(init.certFile), key: readFileSync(init.keyFile) },
    bodyLimit: BODY_LIMIT,
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.post(NODE_PATH, { schema: { body: reviewSchema } }, async (req) => {
    const r = (req.body as Review).request;
    const patch = r.operation === 'UPDATE' ? nodePatch(r.object, wall(), init.staleMs) : undefined;
    if (patch) {
      mutations?.inc(1, { kind: 'node' });
      log.info({ node: r.object?.metadata.name, user: r.userInfo?.username }, 'eviction taint kept off');
    }
    return answer(r.uid, patch);
  });
  app.post(POD_STATUS_PATH, { schema: { body: reviewSchema } }, async (req) => {
    const r = (req.body as Review).request;
    if (r.operation !== 'UPDATE' || r.subResource !== 'status' || !users.has(r.userInfo?.username ?? '')) {
      return answer(r.uid);
    }
    const patch = podReadyPatch(r.object, r.oldObject);
    const nodeName: string | undefined = r.object?.spec?.nodeName;
    if (!patch || !nodeName) return answer(r.uid);
    let node: KubeObject | undefined;
    try {
      node = await c.rest.request<KubeObject>('GET', `/api/v1/nodes/${encodeURIComponent(nodeName)}`, {
        signal: AbortSignal.timeout(NODE_GET_TIMEOUT_MS),
      });
    } catch (err) {
      // Unknown node state: let Kubernetes do what it would without fedmesh.
      if (!isStatus(err, 404)) log.warn({ err, node: nodeName }, 'node not read; pod status write passes');
      return answer(r.uid);
    }
    if (!protects(parseDecision(node.metadata.annotations?.[DECISION_ANNOTATION]), wall(), init.staleMs)) {
      return answer(r.uid);
    }
    mutations?.inc(1, { kind: 'pod' });
    log.info({ pod: `${r.object?.metadata.namespace}/${r.object?.metadata.name}`, node: nodeName }, 'pod kept ready');
    return answer(r.uid, patch);
  });
  return app;
}
