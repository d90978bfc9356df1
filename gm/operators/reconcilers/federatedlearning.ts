/**
 * FederatedLearningJob: the aggregation pod, its Service `<n>-aggregation` (port 7363) and one
 * training pod per `trainingWorkers[]` entry, on that worker's node with host networking. Phase
 * and conditions follow the pods: Pending until one runs, Running (condition Training), Succeeded
 * (condition Complete, completionTime) once some succeeded and none is active, Failed (condition
 * Failed) as soon as one failed. Succeeded and Failed are final, as in Sedna.
 *
 * Pods get stable names `<n>-aggregation-0` and `<n>-train-<i>` instead of Sedna's random suffix,
 * so that a reconcile repeated by a new leader finds them instead of creating twins. A pod deleted
 * by someone is created again; a pod built from an older generation of the job is replaced (Sedna
 * deletes and re-creates all pods when the spec changes).
 */
import { AGG_PORT, GENERATION_ANNOTATION } from '../constants.ts';
import { TerminalError, WriteRefusedError } from '../errors.ts';
import { buildPod, buildService, serviceHost, type WorkerParam } from '../podspec.ts';
import { type KubeObject, RESOURCES, splitKey } from '../resources.ts';
import { type Condition, hasTrue, latestType, stableSuffix, timeString } from '../sedna.ts';
import type { WorkerMount } from '../storage.ts';
import type { Reconciler, ReconcilerDeps } from '../types.ts';
import { isActive, mustGet, statusUnchanged } from './common.ts';

const KIND = 'FederatedLearningJob';

export function federatedLearningReconciler(deps: ReconcilerDeps): Reconciler {
  const { caches, writer } = deps;

  function condition(type: string, reason?: string, message?: string): Condition {
    const now = timeString(deps.now());
    return {
      type,
      status: 'True',
      lastProbeTime: now,
      lastHeartbeatTime: now,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
    };
  }

  /** Sedna's addTransmitterToWorkerParam. */
  function transmitter(job: KubeObject, param: WorkerParam): void {
    const s3 = job.spec.transmitter?.s3;
    if (s3) {
      param.env.TRANSMITTER = 's3';
      param.mounts?.push({ urls: [{ url: s3.aggDataPath }], envName: 'AGG_DATA_PATH' });
    } else param.env.TRANSMITTER = 'ws';
  }

  function desiredPods(job: KubeObject, svc: KubeObject): KubeObject[] {
    const ns = job.metadata.namespace ?? '';
    const uid = job.metadata.uid ?? '';
    const model = mustGet(caches.Model, 'Model', job, job.spec.aggregationWorker.model.name);
    const pretrainedName: string | undefined = job.spec.pretrainedModel?.name || undefined;
    const pretrained = pretrainedName ? mustGet(caches.Model, 'Model', job, pretrainedName) : undefined;
    const participants = String(job.spec.trainingWorkers.length);
    const modelMounts = (): WorkerMount[] => [
      { urls: [{ url: model.spec.url, downloadByInitializer: true }], envName: 'MODEL_URL' },
      ...(pretrained
        ? [{ urls: [{ url: pretrained.spec.url, downloadByInitializer: true }], envName: 'PRETRAINED_MODEL_URL' }]
        : []),
    ];

    const agg: WorkerParam = {
      workerType: 'Aggregation',
      env: {
        NAMESPACE: ns,
        WORKER_NAME: `aggworker-${stableSuffix(uid, 'aggregation')}`,
        JOB_NAME: job.metadata.name,
        AGG_BIND_PORT: String(AGG_PORT),
        PARTICIPANTS_COUNT: participants,
      },
      mounts: [],
      restartPolicy: 'OnFailure',
    };
    transmitter(job, agg);
    agg.mounts?.push(...modelMounts());
    const pods = [buildPod(KIND, job, job.spec.aggregationWorker.template, agg, `${job.metadata.name}-aggregation-0`)];

    job.spec.trainingWorkers.forEach((w: { dataset: { name: string }; template: unknown }, i: number) => {
      const dataset = mustGet(caches.Dataset, 'Dataset', job, w.dataset.name);
      const param: WorkerParam = {
        workerType: 'train',
        env: {
          AGG_PORT: String(AGG_PORT),
          AGG_IP: serviceHost(svc),
          WORKER_NAME: `trainworker-${stableSuffix(uid, 'train', String(i))}`,
          JOB_NAME: job.metadata.name,
          PARTICIPANTS_COUNT: participants,
          NAMESPACE: ns,
          MODEL_NAME: model.metadata.name,
          DATASET_NAME: dataset.metadata.name,
          LC_SERVER: deps.config.lcServer,
        },
        mounts: [
          ...modelMounts(),
          { urls: [{ url: dataset.spec.url, downloadByInitializer: true }], envName: 'TRAIN_DATASET_URL' },
        ],
        hostNetwork: true,
        restartPolicy: 'OnFailure',
      };
      transmitter(job, param);
      pods.push(buildPod(KIND, job, w.template, param, `${job.metadata.name}-train-${i}`));
    });
    return pods;
  }

  /** Appends a Pending condition naming the refusal and posts a Warning Event, once until the job moves on. */
  async function refused(job: KubeObject, conditions: Condition[], err: WriteRefusedError, signal: AbortSignal) {
    const reason = `${err.kind}CreationFailed`;
    const last = conditions.at(-1);
    if (last?.type === 'Pending' && last.reason === reason) return;
    const status = {
      phase: job.status?.phase ?? 'Pending',
      conditions: [...conditions, condition('Pending', reason, err.message)],
    };
    await writer.patchStatus(RESOURCES.FederatedLearningJob, job, status, signal);
    await writer.event(RESOURCES.FederatedLearningJob, job, { type: 'Warning', reason, message: err.message }, signal);
  }

  return {
    kind: KIND,
    async reconcile(key, { signal }) {
      const { namespace, name } = splitKey(key);
      const job = caches.FederatedLearningJob.get(namespace, name);
      if (!job || job.metadata.deletionTimestamp) return {};
      const conditions: Condition[] = job.status?.conditions ?? [];
      if (hasTrue(conditions, 'Complete', 'Failed')) return {};

      const uid = job.metadata.uid ?? '';
      const generation = String(job.metadata.generation ?? 0);
      const existing = caches.flPods.byController(uid);
      const failed = existing.filter((p) => p.status?.phase === 'Failed').length;

      // Pods without our generation stamp were made by a stock Sedna GM (random names): adopt
      // that set as it is rather than add ours beside it.
      const adopted = existing.some((p) => p.metadata.annotations?.[GENERATION_ANNOTATION] === undefined);
      if (failed === 0 && !adopted) {
        // Pods of an older spec go first; their replacements come once they are gone.
        for (const p of existing) {
          const gen = p.metadata.annotations?.[GENERATION_ANNOTATION];
          if (gen !== undefined && gen !== generation && !p.metadata.deletionTimestamp) {
            await writer.delete(RESOURCES.Pod, p, signal);
          }
        }
        const svc = buildService(KIND, job, 'Aggregation', AGG_PORT);
        const pods = desiredPods(job, svc);
        try {
          await writer.apply(RESOURCES.Service, svc, caches.flServices.get(namespace, svc.metadata.name), signal);
          for (const pod of pods) {
            const cur = caches.flPods.get(namespace, pod.metadata.name);
            if (cur?.metadata.deletionTimestamp) continue;
            // Pods are immutable: an existing one of this generation is left as it is.
            if (cur && cur.metadata.annotations?.[GENERATION_ANNOTATION] === generation) continue;
            await writer.apply(RESOURCES.Pod, pod, cur, signal);
          }
        } catch (err) {
          // A worker the API server refuses fails the job with its message.
          if (err instanceof TerminalError) {
            const status = {
              phase: 'Failed',
              conditions: [...conditions, condition('Failed', 'InvalidWorker', err.message)],
            };
            await writer.patchStatus(RESOURCES.FederatedLearningJob, job, status, signal);
          }
          // Refused for what the cluster lacks (its default ServiceAccount, a permission): the job
          // stays Pending and is retried, with the API's answer on it (not final, unlike Failed).
          if (err instanceof WriteRefusedError) await refused(job, conditions, err, signal);
          throw err;
        }
      }

      // Count what exists now; pods just created are not in the cache yet and count as active.
      const desiredNames = new Set([
        `${name}-aggregation-0`,
        ...job.spec.trainingWorkers.map((_: unknown, i: number) => `${name}-train-${i}`),
      ]);
      const pods = caches.flPods.byController(uid);
      const seen = new Set(pods.map((p) => p.metadata.name));
      const pending = failed === 0 && !adopted ? [...desiredNames].filter((n) => !seen.has(n)).length : 0;
      const active = pods.filter(isActive).length + pending;
      const succeeded = pods.filter((p) => p.status?.phase === 'Succeeded').length;
      const running = pods.some((p) => p.status?.phase === 'Running');

      const next: Record<string, unknown> = {
        startTime: job.status?.startTime ?? timeString(deps.now()),
        active,
        succeeded,
        failed,
      };
      let added: Condition | undefined;
      if (failed > 0) {
        next.phase = 'Failed';
        added = condition('Failed', 'workerFailed', 'the worker of FederatedLearningJob failed');
      } else if (succeeded > 0 && active === 0) {
        next.phase = 'Succeeded';
        next.completionTime = timeString(deps.now());
        added = condition('Complete');
      } else if (running || succeeded > 0) {
        next.phase = 'Running';
        if (latestType(conditions) !== 'Training') added = condition('Training');
      } else next.phase = 'Pending';
      if (added) next.conditions = [...conditions, added];
      if (!statusUnchanged(job.status, next)) {
        await writer.patchStatus(RESOURCES.FederatedLearningJob, job, next, signal);
      }
      return {};
    },
  };
}
