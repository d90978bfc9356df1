/**
 * The shared stage of the health tests: a real control plane with kube-controller-manager running
 * the node lifecycle, taint eviction and EndpointSlice controllers with short grace periods, and
 * kube-scheduler (default profile) placing pods created without a node; two
 * `fedmesh gm --health` replicas, each serving the admission webhook over TLS, registered by
 * deploy/health.yaml's own Service and MutatingWebhookConfiguration (webhook-service.ts; one entry
 * per replica URL only on a host without a non-loopback address); two
 * anchor nodes that stay Ready, so the node lifecycle controller never sees a fully disrupted zone.
 */
import { join } from 'node:path';
import { after } from 'node:test';
import { createKubeRest, type KubeRest } from '../../common/kube/rest.ts';
import { issueCert } from '../../controlplane/certs.ts';
import { type Envtest, freePort, useEnvtest } from '../envtest/index.ts';
import { type Replica, startReplica } from '../gm/replicas.ts';
import { type Cluster, CONTROLLER_ARGS, registerWebhooks, startCluster } from './harness.ts';
import { AGGREGATOR_ROUTING, hostAddress, registerServiceWebhooks } from './webhook-service.ts';

export const PERIOD_MS = 1000;
/** Pods tolerate the NoExecute taints this long (Kubernetes' default is 300 s). */
export const TOLERATION_S = 6;
export const NS = 'fedmesh-health';
const LEASE = 'gm';

export interface Stage {
  env: Envtest;
  /** Namespace, webhook, replicas and anchor nodes; call first in every test. */
  ready(): Promise<void>;
  rest(): KubeRest;
  replicas(): Replica[];
  /** Replaces a stopped replica by a new process with the same id and ports. */
  restart(id: string): Promise<Replica>;
  logFile(id: string): string;
}

export function useHealthStage(): Stage {
  const env = useEnvtest({
    controllers: ['node-lifecycle-controller', 'taint-eviction-controller', 'endpointslice-controller'],
    controllerArgs: CONTROLLER_ARGS,
    scheduler: true,
    apiserverArgs: [AGGREGATOR_ROUTING],
  });
  // The webhook through its Service when this host has a non-loopback address (webhook-service.ts).
  const ip = hostAddress();
  let rest: KubeRest | undefined;
  let replicas: Replica[] = [];
  let anchors: Cluster | undefined;
  const ports = new Map<string, number>();
  let cert: { cert: string; key: string } | undefined;
  const logFile = (id: string) => join(env.plane.dir, `gm-${id}.log`);
  const start = (id: string) =>
    startReplica(env.plane, {
      id,
      namespace: NS,
      leaseName: LEASE,
      logFile: logFile(id),
      args: [
        '--no-operators',
        '--health',
        '--health-zones',
        '--health-tick',
        '500ms',
        '--health-window',
        '4s',
        '--health-max-skew',
        '5s',
        '--health-refresh',
        '5s',
        '--health-stale',
        '60s',
        '--health-webhook-listen',
        `${ip ?? '127.0.0.1'}:${ports.get(id)}`,
        '--health-webhook-cert',
        cert?.cert ?? '',
        '--health-webhook-key',
        cert?.key ?? '',
      ],
    });

  // Set up by the first test that needs it: a top-level before() here could run ahead of
  // useEnvtest's own before() hook.
  let setup: Promise<void> | undefined;
  const ready = () => {
    setup ??= (async () => {
      rest = await createKubeRest(env.kubeConfig());
      await rest.request('POST', '/api/v1/namespaces', { body: { metadata: { name: NS } } });
      cert = await issueCert(
        env.plane.dir,
        'health-webhook',
        { cn: 'fedmesh-health-webhook' },
        {
          server: { ips: [ip ?? '127.0.0.1'], dns: ['gm-health-webhook.sedna.svc'] },
        },
      );
      const ids = ['gm-a', 'gm-b'];
      for (const id of ids) ports.set(id, await freePort());
      if (ip) {
        await registerServiceWebhooks(
          rest,
          env.plane.dir,
          ids.map((id) => ({ ip, port: ports.get(id) as number })),
        );
      } else {
        await registerWebhooks(
          rest,
          env.plane.dir,
          ids.map((id) => ports.get(id) as number),
        );
      }
      replicas = await Promise.all(ids.map(start));
      anchors = await startCluster(rest, {
        namespace: NS,
        zone: 'anchor',
        names: ['anchor-a', 'anchor-b'],
        periodMs: PERIOD_MS,
      });
    })();
    return setup;
  };
  after(async () => {
    await anchors?.stop();
    await Promise.all(replicas.map((r) => r.proc.stop('SIGKILL')));
    rest?.close();
  });
  return {
    env,
    ready,
    rest: () => rest as KubeRest,
    replicas: () => replicas,
    logFile,
    async restart(id) {
      const r = await start(id);
      replicas = [...replicas.filter((x) => x.id !== id), r];
      return r;
    },
  };
}

/** Sum of a counter series over the replicas that answer (`name{labels}` exactly as rendered). */
export async function metricSum(replicas: Replica[], series: string): Promise<number> {
  let sum = 0;
  for (const r of replicas) {
    try {
      const text = await (
        await fetch(`http://127.0.0.1:${r.port}/metrics`, { signal: AbortSignal.timeout(2000) })
      ).text();
      for (const line of text.split('\n')) if (line.startsWith(`${series} `)) sum += Number(line.split(' ')[1]);
    } catch {
      // a stopped replica has nothing to add
    }
  }
  return sum;
}
