/**
 * IncrementalLearningJob (Sedna's incrementallearning controller): the inference worker starts with
 * the job and is restarted (or hot-updated) at each Deploy; Train and Eval pods run per step with
 * the models and data the LC reported in the step's Ready condition.
 */
import { DEFAULT_MODEL_POLL_PERIOD_SECONDS } from '../../../crds/constants.ts';
import { MODEL_HOT_UPDATE } from '../constants.ts';
import { TerminalError } from '../errors.ts';
import { buildPod, hotUpdateConfigFile, type WorkerParam } from '../podspec.ts';
import { type KubeObject, RESOURCES } from '../resources.ts';
import type { MountUrl } from '../storage.ts';
import type { Reconciler, ReconcilerDeps } from '../types.ts';
import { mustGet } from './common.ts';
import { type ConditionData, modelUrls, type StageJobFlavor, stageJobReconciler, stageWorkerEnv } from './stagejob.ts';

const KIND = 'IncrementalLearningJob';

export function incrementalLearningReconciler(deps: ReconcilerDeps): Reconciler {
  const { caches } = deps;
  const base = (job: KubeObject, worker: string) => stageWorkerEnv(deps, job, worker);

  const flavor: StageJobFlavor = {
    kind: KIND,
    resource: RESOURCES.IncrementalLearningJob,
    jobs: (d) => d.caches.IncrementalLearningJob,
    pods: (d) => d.caches.ilPods,
    inferenceAtStart: true,
    hotUpdate: (job) => job.spec.deploySpec?.model?.hotUpdateEnabled === true,

    stagePod(job, stage, data: ConditionData, _conditions, name) {
      const input = data.input ?? {};
      // Sedna reads both models (and fails the step if either is missing) before building any pod.
      mustGet(caches.Model, 'Model', job, job.spec.initialModel.name);
      mustGet(caches.Model, 'Model', job, job.spec.deploySpec.model.name);
      const dataset = mustGet(caches.Dataset, 'Dataset', job, job.spec.dataset.name);
      const models = modelUrls(input);
      const original = input.dataIndexURL || dataset.spec.url;
      const originalMount: MountUrl = {
        url: original,
        downloadByInitializer: true,
        indirect: dataset.spec.url !== original,
      };
      let param: WorkerParam;
      if (stage === 'Train') {
        if (models.length === 0) throw new TerminalError(`${KIND} ${job.metadata.name}: Train input has no model`);
        param = {
          workerType: 'train',
          env: base(job, 'train-worker'),
          mounts: [
            { urls: [{ url: models[0] as string, downloadByInitializer: true }], envName: 'BASE_MODEL_URL' },
            { urls: [{ url: input.outputDir ?? '' }], envName: 'MODEL_URL' },
            { urls: [{ url: input.dataURL ?? '', downloadByInitializer: true }], envName: 'TRAIN_DATASET_URL' },
            { urls: [originalMount], envName: 'ORIGINAL_DATASET_URL' },
          ],
        };
      } else {
        param = {
          workerType: 'Eval',
          env: base(job, 'eval-worker'),
          mounts: [
            { urls: models.map((url) => ({ url, downloadByInitializer: true })), envName: 'MODEL_URLS' },
            { urls: [{ url: input.dataURL ?? '', downloadByInitializer: true }], envName: 'TEST_DATASET_URL' },
            { urls: [originalMount], envName: 'ORIGINAL_DATASET_URL' },
          ],
        };
      }
      param.restartPolicy = 'OnFailure';
      param.hostNetwork = true;
      const template = stage === 'Train' ? job.spec.trainSpec.template : job.spec.evalSpec.template;
      return buildPod(KIND, job, template, param, name);
    },

    inferencePod(job, name) {
      const model = mustGet(caches.Model, 'Model', job, job.spec.deploySpec.model.name);
      const hem = job.spec.deploySpec.hardExampleMining ?? {};
      const param: WorkerParam = {
        workerType: 'inference',
        env: {
          ...base(job, 'inferworker'),
          HEM_NAME: hem.name ?? '',
          HEM_PARAMETERS: JSON.stringify(hem.parameters ?? null),
        },
        mounts: [{ urls: [{ url: model.spec.url, downloadByInitializer: true }], envName: 'MODEL_URL' }],
        hostNetwork: true,
      };
      if (flavor.hotUpdate(job)) {
        param.modelHotUpdate = {
          pollPeriodSeconds: job.spec.deploySpec.model.pollPeriodSeconds ?? DEFAULT_MODEL_POLL_PERIOD_SECONDS,
          configHostFile: hotUpdateConfigFile(KIND, job),
        };
      }
      return buildPod(KIND, job, job.spec.deploySpec.template, param, name);
    },

    inferenceAnnotations: (job): Record<string, string> =>
      flavor.hotUpdate(job) ? { [MODEL_HOT_UPDATE.annotation]: hotUpdateConfigFile(KIND, job) } : {},
  };
  return stageJobReconciler(flavor, deps);
}
