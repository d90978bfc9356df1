/**
 * Sedna's worker construction (runtime/worker.go): a Pod or a Deployment from the user's pod
 * template plus what the GM adds — storage mounts, env, labels, owner reference, host network,
 * restart and DNS policy, model hot update. One deliberate difference: where the template already
 * has an env var, volume or mount of the same name, ours replaces it instead of adding a duplicate
 * (the value a container sees is the same; server-side apply rejects duplicate list keys).
 */
import { APP_LABEL, GENERATION_ANNOTATION, MODEL_HOT_UPDATE } from './constants.ts';
import { apiVersionOf, type KubeObject, RESOURCES } from './resources.ts';
import { controllerRef, k8sValidName, sednaLabels } from './sedna.ts';
import { addEnv, addVolumes, injectStorage, type WorkerMount } from './storage.ts';

// biome-ignore lint/suspicious/noExplicitAny: pod templates are opaque JSON in the CRDs.
type Json = any;

export interface WorkerParam {
  /** Sedna's worker type as it spells it ('Cloud', 'Edge', 'Aggregation', 'train', 'Eval', 'inference'). */
  workerType: string;
  env: Record<string, string>;
  mounts?: WorkerMount[];
  hostNetwork?: boolean;
  /** Used only when the template sets none. */
  restartPolicy?: string;
  dnsPolicy?: string;
  /** Incremental learning inference workers with hot update: mount the model config directory. */
  modelHotUpdate?: { pollPeriodSeconds: number; configHostFile: string };
}

/** Sedna's GetModelHotUpdateConfigFile: `<prefix>/<ns>/<kind>/<name>/model_config.json`, lowercased. */
export function hotUpdateConfigFile(kind: string, owner: KubeObject): string {
  return [MODEL_HOT_UPDATE.hostPrefix, owner.metadata.namespace, kind, owner.metadata.name, MODEL_HOT_UPDATE.configFile]
    .join('/')
    .toLowerCase();
}

function lastWins<T>(items: T[] | undefined, key: (t: T) => string): T[] | undefined {
  if (!items) return items;
  const out = new Map<string, T>();
  for (const it of items) {
    out.delete(key(it));
    out.set(key(it), it);
  }
  return [...out.values()];
}

function dedupe(spec: Json): void {
  spec.volumes = lastWins(spec.volumes, (v: Json) => v.name);
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    c.env = lastWins(c.env, (e: Json) => e.name);
    c.volumeMounts = lastWins(c.volumeMounts, (m: Json) => m.mountPath);
  }
  if (spec.volumes === undefined) delete spec.volumes;
}

/** The pod spec with everything Sedna injects (injectWorkerParam / injectDeploymentParam). */
function workerSpec(template: Json, param: WorkerParam, forPod: boolean): Json {
  const spec: Json = structuredClone(template?.spec ?? {});
  const env: Record<string, string> = { ...param.env };
  Object.assign(env, injectStorage(spec, param.mounts ?? []));
  if (param.modelHotUpdate) {
    const dir = param.modelHotUpdate.configHostFile.slice(0, param.modelHotUpdate.configHostFile.lastIndexOf('/') + 1);
    const volume = k8sValidName(MODEL_HOT_UPDATE.volume);
    addVolumes(
      spec,
      [{ name: volume, hostPath: { path: dir, type: 'DirectoryOrCreate' } }],
      [{ name: volume, mountPath: MODEL_HOT_UPDATE.containerPrefix }],
    );
    env.MODEL_HOT_UPDATE = 'true';
    env.MODEL_POLL_PERIOD_SECONDS = String(param.modelHotUpdate.pollPeriodSeconds);
    env.MODEL_HOT_UPDATE_CONFIG = `${MODEL_HOT_UPDATE.containerPrefix}/${MODEL_HOT_UPDATE.configFile}`;
  }
  // Go ranges over a map in random order; sorted names keep the object identical on every run.
  addEnv(
    spec,
    Object.keys(env)
      .sort()
      .map((name) => ({ name, value: env[name] as string })),
  );
  if (forPod) {
    if (param.hostNetwork) spec.hostNetwork = true;
    if (!spec.restartPolicy && param.restartPolicy) spec.restartPolicy = param.restartPolicy;
    if (param.dnsPolicy) spec.dnsPolicy = param.dnsPolicy;
  }
  dedupe(spec);
  return spec;
}

function nonEmpty<T extends object>(o: T | undefined): T | undefined {
  return o && Object.keys(o).length > 0 ? o : undefined;
}

/** A worker pod named `name` (Sedna: generateName `<owner>-<worker type>-`) owned by `owner`. */
export function buildPod(
  kind: string,
  owner: KubeObject,
  template: Json,
  param: WorkerParam,
  name: string,
): KubeObject {
  const meta = template?.metadata ?? {};
  return {
    apiVersion: apiVersionOf(RESOURCES.Pod),
    kind: 'Pod',
    metadata: {
      name,
      namespace: owner.metadata.namespace,
      labels: { ...(meta.labels ?? {}), ...sednaLabels(kind, owner, param.workerType) },
      annotations: { ...(meta.annotations ?? {}), [GENERATION_ANNOTATION]: String(owner.metadata.generation ?? 0) },
      ...(meta.finalizers?.length ? { finalizers: meta.finalizers } : {}),
      ownerReferences: [controllerRef(kind, owner)],
    } as KubeObject['metadata'],
    spec: workerSpec(template, param, true),
  };
}

/** A worker Deployment `<owner>-deployment-<worker type>` (Sedna's newDeployment + injectDeploymentParam). */
export function buildDeployment(kind: string, owner: KubeObject, template: Json, param: WorkerParam): KubeObject {
  const labels = {
    ...sednaLabels(kind, owner, param.workerType),
    [APP_LABEL]: `${owner.metadata.name}-${param.workerType}-svc`,
  };
  const meta = structuredClone(template?.metadata ?? {});
  return {
    apiVersion: apiVersionOf(RESOURCES.Deployment),
    kind: 'Deployment',
    metadata: {
      name: `${owner.metadata.name}-deployment-${param.workerType.toLowerCase()}`,
      namespace: owner.metadata.namespace,
      labels,
      ownerReferences: [controllerRef(kind, owner)],
    },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { ...meta, labels: { ...(nonEmpty(meta.labels) ?? {}), ...labels } },
        spec: workerSpec(template, param, false),
      },
    },
  };
}

/** Sedna's CreateEdgeMeshService: `<owner>-<worker type>` selecting that worker, one TCP port named tcp-0. */
export function buildService(kind: string, owner: KubeObject, workerType: string, port: number): KubeObject {
  const labels = sednaLabels(kind, owner, workerType);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: `${owner.metadata.name}-${workerType}`.toLowerCase(),
      namespace: owner.metadata.namespace,
      labels,
      ownerReferences: [controllerRef(kind, owner)],
    },
    spec: {
      selector: labels,
      ports: [{ name: 'tcp-0', protocol: 'TCP', port, targetPort: port }],
    },
  };
}

/** `<host>.<namespace>` of a Service, as Sedna passes it to workers. */
export function serviceHost(svc: KubeObject): string {
  return `${svc.metadata.name}.${svc.metadata.namespace}`;
}
