/**
 * JointInferenceService: the cloud worker Deployment `<n>-deployment-cloud` with its Service
 * `<n>-cloud` (port 5000), and the edge worker Deployment `<n>-deployment-edge` that sends hard
 * examples to it. Status: `active`/`failed` Deployments, `startTime`, and conditions appended on
 * change (Pending while a model is missing, Running, Failed — Failed is final, as in Sedna).
 */
import { BIG_MODEL_PORT } from '../constants.ts';
import { TerminalError } from '../errors.ts';
import { buildDeployment, buildService, serviceHost } from '../podspec.ts';
import { type KubeObject, RESOURCES, splitKey } from '../resources.ts';
import { type Condition, hasTrue, latestType, stableSuffix, timeString } from '../sedna.ts';
import type { Reconciler, ReconcilerDeps } from '../types.ts';
import { mustGet, statusUnchanged } from './common.ts';

const KIND = 'JointInferenceService';

/** A Deployment that cannot make progress (what the deployment controller reports). */
function deploymentFailed(d: KubeObject): boolean {
  const conds: Condition[] = d.status?.conditions ?? [];
  return conds.some(
    (c) =>
      (c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded') ||
      (c.type === 'ReplicaFailure' && c.status === 'True'),
  );
}

export function jointInferenceReconciler(deps: ReconcilerDeps): Reconciler {
  const { caches, writer } = deps;

  function condition(type: string, reason?: string, message?: string): Condition {
    const now = timeString(deps.now());
    return {
      type,
      status: 'True',
      lastHeartbeatTime: now,
      lastTransitionTime: now,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
    };
  }

  async function writeStatus(jis: KubeObject, next: Record<string, unknown>, signal: AbortSignal): Promise<void> {
    const status = { startTime: jis.status?.startTime ?? timeString(deps.now()), ...next };
    if (statusUnchanged(jis.status, status)) return;
    await writer.patchStatus(RESOURCES.JointInferenceService, jis, status, signal);
  }

  return {
    kind: KIND,
    async reconcile(key, { signal }) {
      const { namespace, name } = splitKey(key);
      const jis = caches.JointInferenceService.get(namespace, name);
      if (!jis || jis.metadata.deletionTimestamp) return {};
      const conditions: Condition[] = jis.status?.conditions ?? [];
      // A failed service stays failed (Sedna's isServiceFinished); delete and re-create it to retry.
      if (hasTrue(conditions, 'Failed')) return {};

      let edgeModel: KubeObject;
      let cloudModel: KubeObject;
      try {
        cloudModel = mustGet(caches.Model, 'Model', jis, jis.spec.cloudWorker.model.name);
        edgeModel = mustGet(caches.Model, 'Model', jis, jis.spec.edgeWorker.model.name);
      } catch (err) {
        if (latestType(conditions) !== 'Pending') {
          const c = condition('Pending', 'ModelNotFound', (err as Error).message);
          await writeStatus(jis, { conditions: [...conditions, c], active: 0, failed: 0 }, signal);
        }
        throw err;
      }

      const uid = jis.metadata.uid ?? '';
      const common = { NAMESPACE: namespace, SERVICE_NAME: name };
      const cloud = buildDeployment(KIND, jis, jis.spec.cloudWorker.template, {
        workerType: 'Cloud',
        env: {
          ...common,
          BIG_MODEL_BIND_PORT: String(BIG_MODEL_PORT),
          WORKER_NAME: `cloudworker-${stableSuffix(uid, 'cloud')}`,
        },
        mounts: [{ urls: [{ url: cloudModel.spec.url, downloadByInitializer: true }], envName: 'MODEL_URL' }],
      });
      const svc = buildService(KIND, jis, 'Cloud', BIG_MODEL_PORT);
      const hem = jis.spec.edgeWorker.hardExampleMining ?? {};
      const edge = buildDeployment(KIND, jis, jis.spec.edgeWorker.template, {
        workerType: 'Edge',
        env: {
          ...common,
          BIG_MODEL_IP: serviceHost(svc),
          BIG_MODEL_PORT: String(BIG_MODEL_PORT),
          HEM_NAME: hem.name ?? '',
          // Go marshals a nil slice as null.
          HEM_PARAMETERS: JSON.stringify(hem.parameters ?? null),
          LC_SERVER: deps.config.lcServer,
          WORKER_NAME: `edgeworker-${stableSuffix(uid, 'edge')}`,
        },
        mounts: [{ urls: [{ url: edgeModel.spec.url, downloadByInitializer: true }], envName: 'MODEL_URL' }],
      });

      // Sedna creates the cloud worker, its Service, then the edge worker. Names are fixed and the
      // edge worker only needs the Service's name, so the three writes go out together.
      const current = (o: KubeObject, cache: typeof caches.jiDeployments) => cache.get(namespace, o.metadata.name);
      try {
        await Promise.all([
          writer.apply(RESOURCES.Deployment, cloud, current(cloud, caches.jiDeployments), signal),
          writer.apply(RESOURCES.Service, svc, current(svc, caches.jiServices), signal),
          writer.apply(RESOURCES.Deployment, edge, current(edge, caches.jiDeployments), signal),
        ]);
      } catch (err) {
        // A worker the API server refuses fails the service with its message, as Sedna does.
        if (err instanceof TerminalError) {
          const c = condition('Failed', 'InvalidWorker', err.message);
          await writeStatus(jis, { conditions: [...conditions, c], active: 0, failed: 2 }, signal);
        }
        throw err;
      }

      const deployments = [cloud, edge].map((d) => current(d, caches.jiDeployments));
      const failed = deployments.filter((d) => d && deploymentFailed(d)).length;
      const active = 2 - failed;
      const type = failed > 0 ? 'Failed' : 'Running';
      const next: Record<string, unknown> = { active, failed };
      if (latestType(conditions) !== type) {
        next.conditions = [
          ...conditions,
          failed > 0 ? condition(type, 'workerFailed', 'the worker of service failed') : condition(type),
        ];
      }
      await writeStatus(jis, next, signal);
      return {};
    },
  };
}
