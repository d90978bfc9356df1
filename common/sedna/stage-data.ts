/**
 * What an IncrementalLearningJob or LifelongLearningJob stage report keeps, as Sedna's GM
 * (`controllers/{incremental,lifelong}learning/upstream.go`): the condition data is the report
 * decoded into Sedna's `ConditionData` and encoded again (unknown fields dropped, Go's field order),
 * and for a LifelongLearningJob the output models become `status.knowledgeBase`.
 *
 * Sedna rejects a whole report whose model field has the wrong JSON type (Go's unmarshal fails);
 * fedmesh drops only that field, so one odd metric from a worker does not stall the job.
 */
import { str } from './objects.ts';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A model as Sedna's `runtime.Model` keeps it, fields in its order; absent and malformed fields are left out. */
export type StageModel = Record<string, unknown>;

function stringList(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : undefined;
}

/** `current_metric`: model id → metric name → value (Sedna's `map[string]ModelMetric`). */
function currentMetric(v: unknown): Record<string, Record<string, number>> | undefined {
  if (!isObj(v)) return undefined;
  const out: Record<string, Record<string, number>> = {};
  for (const [id, metrics] of Object.entries(v)) {
    if (!isObj(metrics)) return undefined;
    const m: Record<string, number> = {};
    for (const [k, x] of Object.entries(metrics)) {
      if (!isNum(x)) return undefined;
      m[k] = x;
    }
    out[id] = m;
  }
  return Object.keys(out).length ? out : undefined;
}

function model(m: unknown): StageModel | undefined {
  if (!isObj(m)) return undefined;
  const out: StageModel = { format: str(m.format) ?? '', url: str(m.url) ?? '' };
  const devices = stringList(m.device_soc_versions);
  if (devices?.length) out.device_soc_versions = devices;
  if (isObj(m.metrics) && Object.keys(m.metrics).length) out.metrics = m.metrics;
  if (isNum(m.history_metric) && m.history_metric !== 0) out.history_metric = m.history_metric;
  const current = currentMetric(m.current_metric);
  if (current) out.current_metric = current;
  const classes = stringList(m.classes);
  if (classes) out.classes = classes;
  for (const k of ['number_of_labeled_unseen_sample', 'number_of_model', 'number_of_unseen_sample']) {
    if (isInt(m[k]) && m[k] !== 0) out[k] = m[k];
  }
  return out;
}

const models = (v: unknown) => (Array.isArray(v) && v.length ? v.map(model).filter((m) => m !== undefined) : undefined);

function pick(src: unknown, fields: string[]): Record<string, unknown> | undefined {
  if (!isObj(src)) return undefined;
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = f === 'model' ? model(src[f]) : f === 'models' ? models(src[f]) : str(src[f]);
    if (v !== undefined) out[f] = v;
  }
  return out;
}

/** The condition data Sedna keeps of a stage report: `input` and `output`, known fields only. */
export function conditionData(content: Record<string, unknown>): {
  input?: Record<string, unknown>;
  output?: { model?: StageModel; models?: StageModel[] };
} {
  const out: ReturnType<typeof conditionData> = {};
  const input = pick(content.input, ['model', 'models', 'dataURL', 'dataIndexURL', 'outputDir']);
  const output = pick(content.output, ['model', 'models']);
  if (input) out.input = input;
  if (output) out.output = output;
  return out;
}

/** `status.knowledgeBase` of a LifelongLearningJob (crds/schema/lifelonglearningjob.ts). */
export interface KnowledgeBase {
  AIModels: {
    numberOfAIModels: number;
    listOfAIModels?: Array<{ modelID: string; averagePrecision: number; numberOfTrainSamples: number }>;
  };
  AIClasses: { numberOfAIClasses: number; listOfAIClasses?: string[] };
  samples: { numberOfLabeledUnseenSample: number; numberOfUnseenSample: number };
}

/**
 * Sedna's `updateStatusKnowledgeBase`: undefined when the report has no output models (the stored
 * knowledge base stays). Otherwise one AI model per `current_metric` entry of every output model
 * (its id; the first metric's value as averagePrecision, 0 with none; the model's
 * `number_of_labeled_unseen_sample` as its train samples), the first model's `classes`, and the
 * sum of `number_of_labeled_unseen_sample` as labeled unseen samples (unseen samples: 0, as Sedna).
 * Go iterates maps in random order; fedmesh keeps the order the worker wrote.
 */
export function knowledgeBase(data: ReturnType<typeof conditionData>): KnowledgeBase | undefined {
  const ms = data.output?.models;
  if (!ms?.length) return undefined;
  const list: NonNullable<KnowledgeBase['AIModels']['listOfAIModels']> = [];
  let labeled = 0;
  for (const m of ms) {
    const samples = (m.number_of_labeled_unseen_sample as number | undefined) ?? 0;
    const current = (m.current_metric as Record<string, Record<string, number>> | undefined) ?? {};
    for (const [modelID, metrics] of Object.entries(current)) {
      list.push({ modelID, averagePrecision: Object.values(metrics)[0] ?? 0, numberOfTrainSamples: samples });
    }
    labeled += samples;
  }
  const classes = (ms[0]?.classes as string[] | undefined) ?? [];
  const kb: KnowledgeBase = {
    AIModels: { numberOfAIModels: list.length },
    AIClasses: { numberOfAIClasses: classes.length },
    samples: { numberOfLabeledUnseenSample: labeled, numberOfUnseenSample: 0 },
  };
  if (list.length) kb.AIModels.listOfAIModels = list;
  if (classes.length) kb.AIClasses.listOfAIClasses = classes;
  return kb;
}
