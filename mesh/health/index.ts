/**
 * Distributed node-health voting (issue 19), the node side: zones from labels, a prober that
 * produces signed views, the ballot box that verifies them, the majority tally — pure and
 * transport-free — and the agent (agent.ts) that wires them into a mesh node (ping probes,
 * `/fedmesh/health/1.0.0`, the epoch file). The GM leader will feed a ballot box of its own.
 * See README.md and docs/edge-health.md.
 */
export {
  createHealthAgent,
  HEALTH_PROTOCOL,
  type HealthAgent,
  type HealthAgentComponents,
  type HealthAgentInit,
  type HealthNodeStatus,
  type HealthStatus,
} from './agent.ts';
export { type BallotBox, type BallotBoxComponents, type BallotBoxInit, createBallotBox } from './ballot.ts';
export {
  type ClusterSource,
  createClusterSource,
  HEALTH_CONFIG_KEY,
  HEALTH_CONFIGMAP,
  resolveConfigMapHealth,
} from './cluster.ts';
export { type HealthConfig, parseHealthConfig, resolveHealthConfig } from './config.ts';
export { dialAny, directAddrs } from './direct.ts';
export { bumpEpoch, EPOCH_FILE } from './epoch.ts';
export { VIEW_REJECTION_CODES, ViewRejectedError, type ViewRejectionCode } from './errors.ts';
export {
  createProber,
  type HealthClock,
  type NeighbourState,
  type Prober,
  type ProberComponents,
  type ProberInit,
  type ProbeTiming,
  systemHealthClock,
} from './prober.ts';
export { type Ballot, type Outcome, type TallyResult, tallyAnnotation, tallyNode, tallyZone } from './tally.ts';
export { decodeView, type HealthView, type SignedView, type Verdict, verifyView } from './view.ts';
export { createZoneIndex, type LabelledNode, type Zone, type ZoneConfig, zoneOf } from './zones.ts';
