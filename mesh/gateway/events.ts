/**
 * Object statuses as core/v1 Events on the Gateway or VirtualService (`kubectl describe` shows
 * them): one when an object's outcome changes, Warning with the first issue's reason, Normal
 * `Accepted` otherwise. Best effort: a failed post is logged, never retried.
 */
import type { KubeRest } from '../../common/kube/rest.ts';
import { kubeTime, microTime } from '../../common/kube/time.ts';
import type { Logger } from '../../common/log.ts';
import type { ObjectStatus } from './model.ts';

export function eventPoster(rest: KubeRest, apiVersion: string, instance: string, log: Logger) {
  return (s: ObjectStatus, uid: string | undefined) => {
    const now = new Date();
    const first = s.issues[0];
    const reason = s.accepted && !first ? 'Accepted' : (first?.reason ?? 'Refused');
    const message = s.issues.length
      ? `${s.accepted ? 'served with issues' : 'refused'}: ${s.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`.slice(
          0,
          1024,
        )
      : 'served by this gateway';
    rest
      .request('POST', `/api/v1/namespaces/${encodeURIComponent(s.namespace)}/events`, {
        signal: AbortSignal.timeout(10_000),
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { generateName: `${s.name}.`, namespace: s.namespace },
          involvedObject: { apiVersion, kind: s.kind, name: s.name, namespace: s.namespace, ...(uid ? { uid } : {}) },
          reason,
          message,
          type: s.issues.length ? 'Warning' : 'Normal',
          source: { component: 'fedmesh-gateway', host: instance },
          reportingComponent: 'fedmesh-gateway',
          reportingInstance: instance,
          firstTimestamp: kubeTime(now),
          lastTimestamp: kubeTime(now),
          eventTime: microTime(now),
          action: 'Reconcile',
          count: 1,
        },
      })
      .catch((err: unknown) => log.warn({ err, kind: s.kind, name: s.name }, 'cannot post the event'));
  };
}
