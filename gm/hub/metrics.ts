/** The hub's Prometheus metrics, registered once on the GM's registry. */
import type { Counter, Gauge, Histogram, Registry } from '../../common/metrics.ts';

export interface HubMetrics {
  /** fedmesh_hub_connections{dialect}: LC connections open on this replica. */
  connections: Gauge;
  /** fedmesh_hub_lc_connected{node,dialect}: 1 while the node's LC is served by this replica, else 0. */
  nodeConnected: Gauge;
  /** fedmesh_hub_connection_closes_total{code}: closes by close code (ours and the LC's). */
  closes: Counter;
  /** fedmesh_hub_connection_refusals_total{reason}: upgrades refused before a session started. */
  refusals: Counter;
  /** fedmesh_hub_reports_total{dialect,result}: status reports by outcome (`applied` or the nack code). */
  reports: Counter;
  /** fedmesh_hub_downstream_frames_total{dialect}: object, sync and delete frames sent. */
  downstream: Counter;
  /** fedmesh_hub_token_reviews_total{result}: TokenReviews sent (cache misses). */
  tokenReviews: Counter;
  /** fedmesh_hub_lease_writes_total{result}: connection Lease writes. */
  leaseWrites: Counter;
  /** fedmesh_hub_report_apply_seconds: receipt to API write done. */
  applySeconds: Histogram;
}

export function createHubMetrics(registry: Registry, cacheSynced: () => boolean): HubMetrics {
  registry.gauge('fedmesh_hub_cache_synced', '1 once every Sedna kind was listed.', () => (cacheSynced() ? 1 : 0));
  const connections = registry.gauge('fedmesh_hub_connections', 'LC connections open on this replica, by dialect.');
  connections.set(0, { dialect: 'sedna' });
  connections.set(0, { dialect: 'fedmesh' });
  return {
    connections,
    nodeConnected: registry.gauge('fedmesh_hub_lc_connected', '1 while this replica serves the node, else 0.'),
    closes: registry.counter('fedmesh_hub_connection_closes_total', 'LC connections closed, by close code.'),
    refusals: registry.counter('fedmesh_hub_connection_refusals_total', 'LC connections refused, by reason.'),
    reports: registry.counter('fedmesh_hub_reports_total', 'Status reports received, by dialect and outcome.'),
    downstream: registry.counter('fedmesh_hub_downstream_frames_total', 'Downstream data frames sent, by dialect.'),
    tokenReviews: registry.counter('fedmesh_hub_token_reviews_total', 'TokenReviews sent, by result.'),
    leaseWrites: registry.counter('fedmesh_hub_lease_writes_total', 'Connection Lease writes, by result.'),
    applySeconds: registry.histogram(
      'fedmesh_hub_report_apply_seconds',
      'Time from receiving a report to its API write completing.',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
  };
}
