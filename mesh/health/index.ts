/**
 * Distributed node-health voting (issue 19), the node-side core: zones from labels, a prober that
 * produces signed views, the ballot box that verifies them, the majority tally. Pure and
 * transport-free: the mesh node plugs in `probe` and `publish`, the GM leader feeds the ballot box.
 * See README.md and docs/edge-health.md.
 */
export { type BallotBox, type BallotBoxComponents, type BallotBoxInit, createBallotBox } from './ballot.ts';
export { type HealthConfig, parseHealthConfig, resolveHealthConfig } from './config.ts';
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
