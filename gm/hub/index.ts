/**
 * gm/hub: the LC hub that runs on every GM replica (active-active). See README.md.
 */
import type { KubeRest } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import type { Registry } from '../../common/metrics.ts';
import type { ListenerLimits } from '../../common/net/guard.ts';
import type { Check } from '../http.ts';

export interface HubInit {
  /** This replica's identity (the GM's Lease identity); names streams and connection Leases. */
  replicaId: string;
  /** Namespace of the GM: connection Leases live here. */
  namespace: string;
  /** WebSocket listen address. Default 0.0.0.0:9000 (Sedna's). */
  listen: { host: string; port: number };
  /** Largest frame an LC may send, in bytes (ws maxPayload; 1009 beyond). Default 1 MiB. */
  maxFrameBytes?: number;
  /** Accept Sedna-dialect LCs without credentials (trusting Node-Name). Default false. */
  allowUnauthenticatedSedna?: boolean;
  /** Namespace of the LC ServiceAccounts. Default: `namespace`. */
  lcNamespace?: string;
  /** The LC DaemonSet's ServiceAccount, whose pod-bound tokens name their node. Default `lc`. */
  lcServiceAccount?: string;
  /** fedmesh heartbeat interval / timeout sent in `welcome` (ms). Defaults 10 000 / 30 000. */
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  /** Renew interval of the per-node connection Leases (ms); 0 disables them. Default 60 000. */
  connectionLeaseRenewMs?: number;
  /** Listener limits: connections in total / per source address, upgrade deadline (ms). Defaults 20 000 / 1 000 / 10 000. */
  limits?: Partial<ListenerLimits>;
  /** A fedmesh connection must send hello within this many ms after the upgrade. Default 10 000. */
  helloTimeoutMs?: number;
}

export interface HubComponents {
  rest: KubeRest;
  log: Logger;
  registry: Registry;
}

export interface Hub {
  /** Serves until `signal` aborts, then closes every connection with 1001 and stops listening. */
  start(signal: AbortSignal): Promise<void>;
  /** Readiness of this replica's hub (caches synced, listening), for /readyz in replica mode. */
  readonly checks: Check[];
  /** The bound address once listening. */
  address(): { host: string; port: number } | undefined;
  /** Nodes connected to this replica now, with their dialect. */
  connections(): Array<{ node: string; dialect: 'sedna' | 'fedmesh'; since: number }>;
}

export { createHub } from './server.ts';
