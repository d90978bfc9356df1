import type { ZoneConfig } from '../../mesh/health/index.ts';

/** Options of the GM's edge-health side (see index.ts for every default). */
export interface HealthInit {
  /** Namespace of the views ConfigMaps the node agents write. */
  namespace: string;
  /** Zones from Node labels; must match the agents' `health.zones` (default off, `fedmesh.io/topology-zone`). */
  zones?: Partial<ZoneConfig>;
  /** How often the leader re-decides, ms. Default 1 000. */
  tickMs?: number;
  /** A view counts this long after it reached the GM, ms. Default 20 000. */
  windowMs?: number;
  /** Largest |view time − GM clock|, ms. Default 15 000. */
  maxSkewMs?: number;
  /** An unchanged decision is rewritten this often, ms. Default 60 000. */
  refreshMs?: number;
  /** The webhook trusts a decision this long after it was written or refreshed, ms. Default 300 000. */
  staleMs?: number;
  /** A silent zone keeps its last outcomes this long, ms. Default 3 600 000. */
  holdMs?: number;
  /** The admission webhook on this replica; absent: not served. */
  webhook?: HealthWebhookInit;
}

export interface HealthWebhookInit {
  host: string;
  port: number;
  /** PEM files of the serving certificate and key (the MutatingWebhookConfiguration's caBundle signs it). */
  certFile: string;
  keyFile: string;
  /** Users whose pod-status writes mark pods of a silent node not ready. Default DEFAULT_CONTROLLER_USERS. */
  controllerUsers?: string[];
}

export type ResolvedHealthInit = Required<Omit<HealthInit, 'webhook' | 'zones'>> & {
  zones: ZoneConfig;
  webhook?: HealthWebhookInit;
};
