import type { KubeRest } from '../common/kube/rest.ts';
import { kubeTime, microTime } from '../common/kube/time.ts';

export interface EventInit {
  namespace: string;
  involved: { apiVersion: string; kind: string; name: string; uid?: string };
  reason: string;
  message: string;
  type?: 'Normal' | 'Warning';
  /** The reporting replica. */
  instance: string;
}

/** Posts a core/v1 Event (best effort: an Event is never worth failing the caller for). */
export async function recordEvent(rest: KubeRest, ev: EventInit, signal: AbortSignal): Promise<void> {
  const now = new Date();
  await rest.request('POST', `/api/v1/namespaces/${encodeURIComponent(ev.namespace)}/events`, {
    signal,
    body: {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${ev.involved.name}.`, namespace: ev.namespace },
      involvedObject: { ...ev.involved, namespace: ev.namespace },
      reason: ev.reason,
      message: ev.message,
      type: ev.type ?? 'Normal',
      source: { component: 'fedmesh-gm', host: ev.instance },
      reportingComponent: 'fedmesh-gm',
      reportingInstance: ev.instance,
      firstTimestamp: kubeTime(now),
      lastTimestamp: kubeTime(now),
      eventTime: microTime(now),
      action: ev.reason,
      count: 1,
    },
  });
}
