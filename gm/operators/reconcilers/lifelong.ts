/**
 * LifelongLearningJob (Sedna's lifelonglearning controller): Train and Eval pods per step with the
 * knowledge base server's address; the inference worker starts at the first Deploy and is restarted
 * at every Deploy, reading the knowledge base index `<outputDir>/deploy/index.pkl`.
 */
import { buildPod, type WorkerParam } from '../podspec.ts';
import { type KubeObject, RESOURCES } from '../resources.ts';
import type { Condition } from '../sedna.ts';
import type { MountUrl } from '../storage.ts';
import type { Reconciler, ReconcilerDeps } from '../types.ts';
import { mustGet } from './common.ts';
import { modelUrls, parseData, type StageJobFlavor, stageJobReconciler, stageWorkerEnv } from './stagejob.ts';

const KIND = 'LifelongLearningJob';

const trainCompleted = (c: Condition) => c.stage === 'Train' && c.type === 'Completed';

/** The knowledge base index the last completed training produced (Sedna's getCloudKBIndex). */
function cloudKbIndex(conditions: Condition[]): string {
  for (const c of [...conditions].reverse()) {
    if (!trainCompleted(c)) continue;
    const url = parseData(c).output?.models?.[0]?.url;
    if (url) return url;
  }
  return '';
}

export function lifelongLearningReconciler(deps: ReconcilerDeps): Reconciler {
  const { caches } = deps;
  const base = (job: KubeObject, worker: string) => stageWorkerEnv(deps, job, worker);

  const flavor: StageJobFlavor = {
    kind: KIND,
    resource: RESOURCES.LifelongLearningJob,
    jobs: (d) => d.caches.LifelongLearningJob,
    pods: (d) => d.caches.llPods,
    inferenceAtStart: false,
    hotUpdate: () => false,

    stagePod(job, stage, data, conditions, name) {
      const input = data.input ?? {};
      const dataset = mustGet(caches.Dataset, 'Dataset', job, job.spec.dataset.name);
      const original = input.dataIndexURL || dataset.spec.url;
      const originalMount: MountUrl = {
        url: original,
        downloadByInitializer: true,
        indirect: dataset.spec.url !== original,
      };
      const output = { urls: [{ url: input.outputDir ?? '' }], envName: 'OUTPUT_URL' };
      let param: WorkerParam;
      if (stage === 'Train') {
        const initial = conditions.some(trainCompleted);
        const env = {
          ...base(job, 'train-worker'),
          HAS_COMPLETED_INITIAL_TRAINING: String(initial),
          KB_SERVER: deps.config.kbServer,
        };
        if (initial) Object.assign(env, { CLOUD_KB_INDEX: cloudKbIndex(conditions) });
        param = {
          workerType: 'Train',
          env,
          mounts: [
            output,
            { urls: [{ url: input.dataURL ?? '', downloadByInitializer: true }], envName: 'TRAIN_DATASET_URL' },
            { urls: [originalMount], envName: 'ORIGINAL_DATASET_URL' },
          ],
        };
      } else {
        param = {
          workerType: 'Eval',
          env: { ...base(job, 'eval-worker'), KB_SERVER: deps.config.kbServer },
          mounts: [
            { urls: modelUrls(input).map((url) => ({ url, downloadByInitializer: true })), envName: 'MODEL_URLS' },
            output,
            { urls: [{ url: input.dataURL ?? '', downloadByInitializer: true }], envName: 'TEST_DATASET_URL' },
            { urls: [originalMount], envName: 'ORIGINAL_DATASET_URL' },
          ],
        };
      }
      param.restartPolicy = 'OnFailure';
      param.hostNetwork = true;
      param.dnsPolicy = 'ClusterFirstWithHostNet';
      const template = stage === 'Train' ? job.spec.trainSpec.template : job.spec.evalSpec.template;
      return buildPod(KIND, job, template, param, name);
    },

    inferencePod(job, name) {
      const outputDir = String(job.spec.outputDir ?? '').replace(/\/+$/, '');
      return buildPod(
        KIND,
        job,
        job.spec.deploySpec.template,
        {
          workerType: 'inference',
          env: { ...base(job, 'inferworker'), OUTPUT_URL: job.spec.outputDir },
          mounts: [{ urls: [{ url: `${outputDir}/deploy/index.pkl` }], envName: 'MODEL_URLS' }],
          hostNetwork: true,
          dnsPolicy: 'ClusterFirstWithHostNet',
        },
        name,
      );
    },
  };
  return stageJobReconciler(flavor, deps);
}
