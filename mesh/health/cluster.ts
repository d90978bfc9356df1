/**
 * What a node agent with cluster access reads from the API (config `publish`): the zones from the
 * Node labels, and the health configuration from a ConfigMap, reloaded without restart.
 *
 * - **Zones.** A Node informer (get/list/watch nodes) gives each node's labels; once it has
 *   synced, a member's zone is its Node's label value (`zones.label`), the same source the GM
 *   judges by, so a node can no longer place itself in a zone by its own config. Until the first
 *   list, or without the permission, the zone values of the signed mesh records stand in.
 * - **Configuration.** ConfigMap `<namespace>/fedmesh-health`, key `health.yaml`: the document of
 *   config.ts (period, timeout, window, maxSkew, failureThreshold, zones), watched by name. A
 *   valid document replaces the file's values from the next period; `publish` stays the file's
 *   (it says where the ConfigMap is) and is refused in the ConfigMap. A refused document changes
 *   nothing: the configuration in force stays, the error is logged and counted
 *   (`fedmesh_mesh_health_config_total{result="refused"}`). A deleted ConfigMap or key returns
 *   to the file's values.
 */

import { parseYamlOrJson } from '../../common/config-text.ts';
import { ConfigError } from '../../common/errors.ts';
import { createInformer, type ListerWatcher, restListerWatcher } from '../../common/kube/informer.ts';
import type { KubeObject, ResourceType } from '../../common/kube/objects.ts';
import type { KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import { type HealthConfig, resolveHealthConfig } from './config.ts';

/** The ConfigMap holding the cluster-wide health configuration (never a node's views: `fedmesh-health-<node>`). */
export const HEALTH_CONFIGMAP = 'fedmesh-health';
/** Its key holding the document (YAML or JSON). */
export const HEALTH_CONFIG_KEY = 'health.yaml';

const NODES: ResourceType = { group: '', version: 'v1', plural: 'nodes', kind: 'Node' };
const CONFIGMAPS: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' };

export interface ClusterSourceInit {
  /** Namespace of the ConfigMap (config `publish.namespace`). */
  namespace: string;
}

export interface ClusterSourceComponents {
  rest: KubeRest;
  /** The configuration from the node's file: the fallback, and where `publish` comes from. */
  fileConfig(): HealthConfig;
  /** Called with the configuration now in force after every accepted change. */
  apply(config: HealthConfig, source: 'configmap' | 'file'): void;
  log: Logger;
  registry?: Registry;
  /** Replaces the API calls in tests. */
  listerWatcher?: (r: ResourceType, namespace?: string) => ListerWatcher;
}

export interface ClusterSource {
  /** Watches Nodes and the ConfigMap until `signal` aborts. */
  start(signal: AbortSignal): Promise<void>;
  /** True once the Node list is in (then `zoneValue` is authoritative). */
  nodesSynced(): boolean;
  /** The node's `label` value from its Node; undefined when unlabelled or unknown. */
  zoneValue(node: string, label: string): string | undefined;
  /** Whether the ConfigMap's configuration is in force (else the file's). */
  fromConfigMap(): boolean;
}

/**
 * Validates a ConfigMap document against the file's configuration: throws ConfigError naming the
 * problem; `publish` is refused (it is the file's: where to find this very ConfigMap).
 */
export async function resolveConfigMapHealth(text: string, file: HealthConfig): Promise<HealthConfig> {
  const source = `ConfigMap ${HEALTH_CONFIGMAP} key ${HEALTH_CONFIG_KEY}`;
  const doc = (await parseYamlOrJson(text, source)) ?? {};
  if (typeof doc === 'object' && doc !== null && !Array.isArray(doc) && 'publish' in doc) {
    throw new ConfigError(`${source}: /publish is set in each node's config file only`);
  }
  const cfg = resolveHealthConfig(doc, source);
  return { ...cfg, ...(file.publish ? { publish: file.publish } : {}) };
}

export function createClusterSource(init: ClusterSourceInit, c: ClusterSourceComponents): ClusterSource {
  const log = c.log.child({ component: 'mesh.health' });
  const lw = c.listerWatcher ?? ((r: ResourceType, ns?: string) => restListerWatcher(c.rest, r, ns));
  const nodes = createInformer({ resource: NODES }, { listerWatcher: lw(NODES), log });
  // One ConfigMap, watched by name (RBAC can grant list/watch on that name alone).
  const byName = lw(CONFIGMAPS, init.namespace);
  const named = { fieldSelector: `metadata.name=${HEALTH_CONFIGMAP}` };
  const maps = createInformer(
    { resource: CONFIGMAPS, namespace: init.namespace },
    {
      listerWatcher: {
        list: (q, signal) => byName.list({ ...q, ...named }, signal),
        watch: (q, signal) => byName.watch({ ...q, ...named }, signal),
      },
      log,
    },
  );
  const results = c.registry?.counter(
    'fedmesh_mesh_health_config_total',
    'Health configuration changes from the ConfigMap, by result (applied, refused, removed)',
  );
  let inForce: 'configmap' | 'file' = 'file';
  let lastText: string | undefined;
  // Changes are applied in arrival order even though parsing is async.
  let chain = Promise.resolve();

  const onMap = (cm: KubeObject | undefined) => {
    const text = cm ? ((cm as { data?: Record<string, string> }).data?.[HEALTH_CONFIG_KEY] ?? undefined) : undefined;
    chain = chain.then(async () => {
      if (text === lastText) return;
      lastText = text;
      if (text === undefined) {
        if (inForce === 'file') return;
        inForce = 'file';
        results?.inc(1, { result: 'removed' });
        log.info({ configMap: HEALTH_CONFIGMAP }, 'health configmap gone, back to the file configuration');
        c.apply(c.fileConfig(), 'file');
        return;
      }
      try {
        const cfg = await resolveConfigMapHealth(text, c.fileConfig());
        inForce = 'configmap';
        results?.inc(1, { result: 'applied' });
        c.apply(cfg, 'configmap');
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        results?.inc(1, { result: 'refused' });
        log.warn(
          { configMap: HEALTH_CONFIGMAP, err: err.message, inForce },
          'health configuration refused, keeping the one in force',
        );
      }
    });
  };
  maps.addHandlers({
    add: (cm) => onMap(cm),
    update: (_old, cm) => onMap(cm),
    delete: () => onMap(undefined),
    relisted: () => {
      if (!maps.get(init.namespace, HEALTH_CONFIGMAP)) onMap(undefined);
    },
  });

  return {
    async start(signal) {
      await Promise.all([nodes.start(signal), maps.start(signal)]);
      await chain;
    },
    nodesSynced: () => nodes.hasSynced(),
    zoneValue(node, label) {
      const value = nodes.get('', node)?.metadata.labels?.[label];
      return value ? value : undefined;
    },
    fromConfigMap: () => inForce === 'configmap',
  };
}
