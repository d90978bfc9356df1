/**
 * Invalid objects, one broken field each, built from the examples. The unit test checks that the TS
 * validator reports `keyword` at `path`; the integration test that the API server refuses the same
 * object naming the same field.
 */
import type { KindName } from '../crds/kinds.ts';
import { exampleObject } from './index.ts';

export interface InvalidCase {
  name: string;
  kind: KindName;
  obj: () => Record<string, unknown>;
  /** Field the error names, as the API server prints it. */
  path: string;
  /** JSON Schema keyword our validator reports. */
  keyword: string;
  /** False when the API server refuses the object for another reason or not at all (default true). */
  apiServer?: boolean;
}

// Deep edits of example objects; the validators under test check the shapes.
// biome-ignore lint/suspicious/noExplicitAny: fixtures poke at nested fields
type Any = any;

/** `exampleObject(id)` after `edit`. */
function broken(id: string, edit: (o: Any) => void): () => Record<string, unknown> {
  return () => {
    const o = exampleObject(id);
    edit(o);
    return o;
  };
}

const JI = 'JointInferenceService/helmet-detection-inference-example';
const FL = 'FederatedLearningJob/surface-defect-detection';
const IL = 'IncrementalLearningJob/helmet-detection-demo';
const LL = 'LifelongLearningJob/robo-dog-delivery';

export const INVALID: InvalidCase[] = [
  {
    name: 'Dataset without spec.nodeName',
    kind: 'Dataset',
    obj: broken('Dataset/incremental-dataset', (o) => delete o.spec.nodeName),
    path: 'spec.nodeName',
    keyword: 'required',
  },
  {
    name: 'Dataset with a numeric url',
    kind: 'Dataset',
    obj: broken('Dataset/incremental-dataset', (o) => (o.spec.url = 42)),
    path: 'spec.url',
    keyword: 'type',
  },
  {
    name: 'Model with a string device list',
    kind: 'Model',
    obj: broken('Model/deploy-model', (o) => (o.spec.device_soc_versions = 'Ascend310')),
    path: 'spec.device_soc_versions',
    keyword: 'type',
  },
  {
    name: 'JointInferenceService without cloudWorker',
    kind: 'JointInferenceService',
    obj: broken(JI, (o) => delete o.spec.cloudWorker),
    path: 'spec.cloudWorker',
    keyword: 'required',
  },
  {
    name: 'JointInferenceService with a mining parameter that is a number',
    kind: 'JointInferenceService',
    obj: broken(JI, (o) => (o.spec.edgeWorker.hardExampleMining.parameters[1].value = 0.9)),
    path: 'spec.edgeWorker.hardExampleMining.parameters[1].value',
    keyword: 'type',
  },
  {
    name: 'FederatedLearningJob training worker without a dataset name',
    kind: 'FederatedLearningJob',
    obj: broken(FL, (o) => (o.spec.trainingWorkers[1].dataset = {})),
    path: 'spec.trainingWorkers[1].dataset.name',
    keyword: 'required',
  },
  {
    name: 'FederatedLearningJob with a pod template that is a list',
    kind: 'FederatedLearningJob',
    obj: broken(FL, (o) => (o.spec.aggregationWorker.template = [])),
    path: 'spec.aggregationWorker.template',
    keyword: 'type',
  },
  {
    name: 'IncrementalLearningJob with a zero poll period',
    kind: 'IncrementalLearningJob',
    obj: broken(IL, (o) => (o.spec.deploySpec.model.pollPeriodSeconds = 0)),
    path: 'spec.deploySpec.model.pollPeriodSeconds',
    keyword: 'minimum',
  },
  {
    name: 'IncrementalLearningJob with a textual trainProb',
    kind: 'IncrementalLearningJob',
    obj: broken(IL, (o) => (o.spec.dataset.trainProb = '0.8')),
    path: 'spec.dataset.trainProb',
    keyword: 'type',
  },
  {
    name: 'LifelongLearningJob without outputDir',
    kind: 'LifelongLearningJob',
    obj: broken(LL, (o) => delete o.spec.outputDir),
    path: 'spec.outputDir',
    keyword: 'required',
  },
  {
    name: 'LifelongLearningJob without a trigger condition',
    kind: 'LifelongLearningJob',
    obj: broken(LL, (o) => delete o.spec.trainSpec.trigger.condition),
    path: 'spec.trainSpec.trigger.condition',
    keyword: 'required',
  },
  {
    name: 'LifelongLearningJob with a status time that is not RFC 3339',
    kind: 'LifelongLearningJob',
    obj: broken(LL, (o) => (o.status = { startTime: 'yesterday' })),
    path: 'status.startTime',
    keyword: 'format',
    // The main endpoint drops status when the status subresource is on; see the /status test instead.
    apiServer: false,
  },
  {
    name: 'a Dataset validated as a Model',
    kind: 'Model',
    obj: broken('Model/deploy-model', (o) => (o.kind = 'Dataset')),
    path: 'kind',
    keyword: 'const',
    // The API server answers a kind mismatch with 400 before any schema check.
    apiServer: false,
  },
  {
    name: 'an object without spec',
    kind: 'Model',
    obj: broken('Model/deploy-model', (o) => delete o.spec),
    path: 'spec',
    keyword: 'required',
  },
];
