/**
 * The zones the leader judges by follow the agents' configuration: when ConfigMap
 * `<namespace>/fedmesh-health` (mesh/health/cluster.ts) holds a valid document, its `zones`
 * (enabled, label; resolved with the same defaults as on the nodes) replace the
 * `--health-zones` / `--health-zone-label` flags, so nodes and GM cannot disagree on the zone of a
 * view; a refused document changes nothing (logged, counted); without the ConfigMap the flags apply.
 * The window stays the GM's flag: it covers the agents' API writes too, not only their periods.
 */
import { ConfigError } from '../../common/errors.ts';
import { createInformer, type Informer, type ListerWatcher } from '../../common/kube/informer.ts';
import type { KubeObject } from '../../common/kube/objects.ts';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import { HEALTH_CONFIG_KEY, HEALTH_CONFIGMAP, resolveConfigMapHealth } from '../../mesh/health/cluster.ts';
import { resolveHealthConfig } from '../../mesh/health/config.ts';
import type { ZoneConfig } from '../../mesh/health/zones.ts';

export interface ZonesSource {
  /** The zones in force (the same object throughout: fields change in place). */
  readonly zones: ZoneConfig;
  readonly informer: Informer;
}

export function createZonesSource(
  init: { namespace: string; flags: ZoneConfig },
  c: { listerWatcher: ListerWatcher; log: Logger; registry?: Registry; changed(): void },
): ZonesSource {
  const zones: ZoneConfig = { ...init.flags };
  const results = c.registry?.counter(
    'fedmesh_gm_health_config_total',
    'Zone settings from ConfigMap fedmesh-health, by result (applied, refused, removed)',
  );
  const named = { fieldSelector: `metadata.name=${HEALTH_CONFIGMAP}` };
  const informer = createInformer(
    { resource: { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' }, namespace: init.namespace },
    {
      listerWatcher: {
        list: (q, signal) => c.listerWatcher.list({ ...q, ...named }, signal),
        watch: (q, signal) => c.listerWatcher.watch({ ...q, ...named }, signal),
      },
      log: c.log,
    },
  );
  const set = (next: ZoneConfig, result: string) => {
    results?.inc(1, { result });
    if (next.enabled === zones.enabled && next.label === zones.label) return;
    Object.assign(zones, next);
    c.log.info({ zones: next, source: result === 'removed' ? 'flags' : HEALTH_CONFIGMAP }, 'health zones changed');
    c.changed();
  };
  let chain = Promise.resolve();
  const onMap = (cm: KubeObject | undefined) => {
    const text = (cm as { data?: Record<string, string> } | undefined)?.data?.[HEALTH_CONFIG_KEY];
    chain = chain.then(async () => {
      if (text === undefined) return set({ ...init.flags }, 'removed');
      try {
        const cfg = await resolveConfigMapHealth(text, resolveHealthConfig({}));
        set(cfg.zones, 'applied');
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        results?.inc(1, { result: 'refused' });
        c.log.warn(
          { configMap: HEALTH_CONFIGMAP, err: err.message, zones },
          'health configuration refused, keeping the zones in force',
        );
      }
    });
  };
  informer.addHandlers({
    add: (cm) => onMap(cm),
    update: (_o, cm) => onMap(cm),
    delete: () => onMap(undefined),
  });
  return {
    zones,
    informer: {
      ...informer,
      // Synced once the list is in and its document applied, so no decision uses the wrong zones.
      waitForSync: async (signal) => (await informer.waitForSync(signal)) && (await chain.then(() => true)),
    },
  };
}
