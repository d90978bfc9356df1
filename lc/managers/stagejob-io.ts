/**
 * What the incremental and lifelong learning managers read from a job and write on the node, as
 * Sedna's LC does: the conditions' data, the job's output folders under the root-fs mount
 * (`<outputDir>/data/{train,eval}/<round>/data.txt`, `<outputDir>/{train,eval}/<round>`), model
 * copies and the hot update config file. Paths reported upstream are the node's (no rootfs prefix).
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { SednaKind } from '../../common/wire/index.ts';
import type { ManagerContext } from './types.ts';

/** Sedna's Model in condition data and upstream input/output. */
export interface ModelRef {
  format?: string;
  url?: string;
  metrics?: Record<string, unknown>;
  [k: string]: unknown;
}

export interface StageCondition {
  type?: string;
  stage?: string;
  data?: string;
}

/** The stored job object, as much of it as the managers read. */
export interface JobObject {
  metadata: { namespace?: string; name: string; annotations?: Record<string, string> };
  spec: Record<string, unknown> & {
    dataset?: { name?: string; trainProb?: number };
    outputDir?: string;
  };
  status?: { conditions?: StageCondition[] };
}

/** The upstream content of an IL/LL report (Sedna's UpstreamMessage). */
export interface UpstreamStatus {
  phase: 'train' | 'eval' | 'deploy';
  status: 'ready' | 'completed' | 'failed';
  input?: { models?: ModelRef[]; dataURL?: string; dataIndexURL?: string; outputDir?: string };
  [k: string]: unknown;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function conditionsOf(job: JobObject): StageCondition[] {
  return Array.isArray(job.status?.conditions) ? job.status.conditions : [];
}

/**
 * Sedna's getModelsFromJobConditions: the models of `part` in the newest condition of
 * `stage`/`type` that has that part; undefined when none has.
 */
export function conditionModels(
  conds: StageCondition[],
  stage: string,
  type: string,
  part: 'input' | 'output',
): ModelRef[] | undefined {
  for (let i = conds.length - 1; i >= 0; i--) {
    const c = conds[i];
    if (c?.stage !== stage || c.type !== type) continue;
    let data: unknown;
    try {
      data = JSON.parse(String(c.data ?? '{}'));
    } catch {
      continue;
    }
    const p = isObj(data) ? data[part] : undefined;
    if (!isObj(p)) continue;
    if (isObj(p.model)) return [p.model as ModelRef];
    return Array.isArray(p.models) ? (p.models.filter(isObj) as ModelRef[]) : [];
  }
  return undefined;
}

/** A Model object's spec as a ModelRef (`{format, url}`), if the node holds it. */
export function modelOf(ctx: ManagerContext, namespace: string, name: unknown): ModelRef | undefined {
  if (typeof name !== 'string') return undefined;
  const m = ctx.get('model', namespace, name);
  const spec = m?.object.spec as { format?: unknown; url?: unknown } | undefined;
  if (typeof spec?.url !== 'string') return undefined;
  return { format: typeof spec.format === 'string' ? spec.format : '', url: spec.url };
}

/** Sedna's getModel: the first model of the same format as `like`. */
export function sameFormat(models: ModelRef[] | undefined, like: ModelRef | undefined): ModelRef | undefined {
  if (!models || !like) return undefined;
  return models.find((m) => m.format === like.format);
}

/** Just `{format, url}` (what Sedna's LC puts in an input). */
export const ref = (m: ModelRef): ModelRef => ({ format: m.format ?? '', url: m.url ?? '' });

const isLocal = (url: string) => url.startsWith('/');

/** Node paths of a job's output folders; undefined when outputDir is not a local path (not supported yet). */
export function outputPaths(job: JobObject): { root: string } | undefined {
  const dir = typeof job.spec.outputDir === 'string' ? job.spec.outputDir.replace(/\/+$/, '') : '';
  return dir && isLocal(dir) ? { root: dir } : undefined;
}

/** File system work under the root-fs mount. */
export interface NodeFiles {
  /** Writes sample lines (and a csv header first) to the node path `file`, creating its folder. */
  writeSamples(file: string, samples: string[], header?: string): void;
  /** Copies a model (file or folder) from node path `from` to node path `to`; false when either is not local. */
  copyModel(from: string, to: string): boolean;
  /** Writes the hot update config at node path `configFile` pointing the worker at `modelFile`. */
  writeHotUpdateConfig(configFile: string, modelInContainer: string, at: Date): void;
  /** Removes a node folder (a deleted job's hot update folder). */
  removeDir(dir: string): void;
}

export function nodeFiles(rootfs: string): NodeFiles {
  const abs = (p: string) => join(rootfs, p);
  return {
    writeSamples(file, samples, header) {
      mkdirSync(dirname(abs(file)), { recursive: true });
      const body = [...(header !== undefined ? [header] : []), ...samples].map((l) => `${l}\n`).join('');
      writeFileSync(abs(file), body);
    },
    copyModel(from, to) {
      if (!isLocal(from) || !isLocal(to)) return false;
      if (from === to) return true;
      mkdirSync(dirname(abs(to)), { recursive: true });
      cpSync(abs(from), abs(to), { recursive: true, force: true });
      return true;
    },
    writeHotUpdateConfig(configFile, modelInContainer, at) {
      // Sedna's shape (json.MarshalIndent with one space); the worker reloads when model_update_time changes.
      const config = { model_config: { model_path: modelInContainer, model_update_time: at.toISOString() } };
      mkdirSync(dirname(abs(configFile)), { recursive: true });
      writeFileSync(abs(configFile), JSON.stringify(config, null, ' '));
    },
    removeDir(dir) {
      if (isLocal(dir)) rmSync(abs(dir), { recursive: true, force: true });
    },
  };
}

/** Where the inference container sees the hot update folder (Sedna's ModelHotUpdateContainerPrefix). */
export const HOT_UPDATE_CONTAINER_DIR = '/model-hot-update';
/** The job annotation naming the node path of the hot update config (set by the GM). */
export const HOT_UPDATE_ANNOTATION = 'sedna.io/model-hot-update-config';

/** The node path and container path of the model a hot update installs. */
export function hotUpdateTarget(configFile: string, trainedUrl: string) {
  const name = basename(trainedUrl);
  return { nodeFile: join(dirname(configFile), name), containerFile: `${HOT_UPDATE_CONTAINER_DIR}/${name}` };
}

/** `<namespace>/<kind>/<name>`, Sedna's unique identifier of a job. */
export const jobKey = (kind: SednaKind, namespace: string, name: string) => `${namespace}/${kind}/${name}`;
