/**
 * After a webhook outage: the node lifecycle controller marked the pods of a NotReady node not
 * ready while no replica answered (failurePolicy Ignore), so they left their EndpointSlices. The
 * leader sets such a pod's Ready condition back to True on a node its peers vouch for, but only
 * when the pod's ContainersReady condition is True: the controller flips Ready alone
 * (MarkPodsNotReady), so ContainersReady is still the kubelet's last word on the containers; a pod
 * whose containers were not ready stays not ready. The controller then marks the pod again (it
 * reacts to pod updates on NotReady nodes), and the webhook — answering again — keeps it Ready.
 */
import type { KubeObject } from '../../common/kube/objects.ts';
import type { KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import type { FencingGuard } from '../election/index.ts';
import { HEALTH_FIELD_MANAGER } from './constants.ts';

type Condition = { type: string; status: string };

/** True for a pod the node lifecycle controller marked not ready while its containers were ready. */
export function markedNotReady(pod: KubeObject): boolean {
  const conds: Condition[] = pod.status?.conditions ?? [];
  const is = (type: string, status: string) => conds.some((c) => c.type === type && c.status === status);
  return !pod.metadata.deletionTimestamp && is('Ready', 'False') && is('ContainersReady', 'True');
}

export interface PodRestorer {
  /** Restores the pods of `node` marked not ready (fenced writes); returns how many. */
  restore(node: string, signal: AbortSignal): Promise<number>;
}

export function createPodRestorer(c: {
  rest: KubeRest;
  guard: FencingGuard;
  log: Logger;
  wall(): number;
}): PodRestorer {
  return {
    async restore(node, signal) {
      const deadline = AbortSignal.any([signal, AbortSignal.timeout(10_000)]);
      const pods = await c.rest.request<{ items: KubeObject[] }>('GET', '/api/v1/pods', {
        query: { fieldSelector: `spec.nodeName=${node}` },
        signal: deadline,
      });
      let restored = 0;
      for (const pod of pods.items.filter(markedNotReady)) {
        const { namespace = '', name } = pod.metadata;
        await c.guard.write((term) =>
          c.rest.request(
            'PATCH',
            `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/status`,
            {
              // Conditions merge by type: only Ready changes.
              body: {
                status: {
                  conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(c.wall()).toISOString() }],
                },
              },
              contentType: 'application/strategic-merge-patch+json',
              query: { fieldManager: HEALTH_FIELD_MANAGER },
              signal: AbortSignal.any([term, deadline]),
              beforeSend: () => c.guard.check(),
            },
          ),
        );
        restored++;
        c.log.info({ node, pod: `${namespace}/${name}` }, 'pod set ready again: peers see its node healthy');
      }
      return restored;
    },
  };
}
