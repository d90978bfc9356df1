/**
 * The tally: how a zone's fresh views judge each of its members. Pure: views in, verdicts out.
 *
 * For a subject S in zone Z, counting only the latest view of each member of Z received within the
 * window (the *voters*, n of them):
 *
 * - `against` = voters other than S whose view says S is unhealthy; `for` = those saying healthy;
 *   a voter whose view has no verdict on S (it has not probed S yet) abstains but stays in n.
 * - S's view of itself is never read. S counts once on its own side when S itself voted: a side of a
 *   partition includes its own members, which is what lets the larger side of a split win.
 * - **unhealthy** when `against` is a strict majority of n (`against > n/2`);
 * - **healthy** when at least one other voter sees S and S's side is a strict majority of n
 *   (`for ≥ 1` and `for + self > n/2`); a lone node never vouches for itself;
 * - **unknown** otherwise: a tie (a 2 | 2 split), no voters, or too many abstentions. Unknown neither
 *   evicts nor protects: the cloud side then does what Kubernetes would do without fedmesh.
 *
 * The two majorities exclude each other (`for + self + against ≤ n`). A single lying voter cannot
 * turn a verdict that the others hold by a margin of two or more; a bare majority of one (3 | 2) is,
 * as in any majority vote, one defection from a tie.
 */
import { canonicalJson, type HealthView, isNewer } from './view.ts';
import type { Zone } from './zones.ts';

/** A verified view and when it arrived (receiver's monotonic ms). */
export interface Ballot {
  view: HealthView;
  receivedAt: number;
  /** The signed wire bytes, kept so the view can be passed on unchanged (to the cloud). */
  bytes?: Uint8Array;
}

export type Outcome = 'healthy' | 'unhealthy' | 'unknown';

export interface TallyResult {
  node: string;
  outcome: Outcome;
  /** Voters other than the node saying it is healthy, sorted. */
  supporters: string[];
  /** Voters other than the node saying it is unhealthy, sorted. */
  accusers: string[];
  /** Members whose view was fresh (n), the node itself included when it voted. */
  voters: number;
  /** Whether the node itself voted within the window (counted once on its own side). */
  self: boolean;
}

export interface TallyInput {
  zone: Zone;
  /** Verified views; stale, foreign and superseded ones are ignored here. */
  ballots: Iterable<Ballot>;
  /** Receiver's monotonic ms now. */
  now: number;
  /** A view counts when received within this many ms. */
  windowMs: number;
}

/** The latest fresh view of each zone member. */
export function freshViews(input: TallyInput): Map<string, HealthView> {
  const latest = new Map<string, HealthView>();
  for (const b of input.ballots) {
    const { voter } = b.view;
    if (input.now - b.receivedAt > input.windowMs || b.receivedAt > input.now) continue;
    if (!input.zone.has(voter) || b.view.zone !== input.zone.id) continue;
    if (isNewer(b.view, latest.get(voter))) latest.set(voter, b.view);
  }
  return latest;
}

function judge(node: string, views: Map<string, HealthView>): TallyResult {
  const supporters: string[] = [];
  const accusers: string[] = [];
  for (const [voter, view] of views) {
    if (voter === node) continue;
    const v = view.verdicts[node];
    if (v?.state === 'healthy') supporters.push(voter);
    else if (v?.state === 'unhealthy') accusers.push(voter);
  }
  const n = views.size;
  const self = views.has(node);
  let outcome: Outcome = 'unknown';
  if (accusers.length > n / 2) outcome = 'unhealthy';
  else if (supporters.length >= 1 && supporters.length + (self ? 1 : 0) > n / 2) outcome = 'healthy';
  return { node, outcome, supporters: supporters.sort(), accusers: accusers.sort(), voters: n, self };
}

/** Judges every member of the zone. */
export function tallyZone(input: TallyInput): Map<string, TallyResult> {
  const views = freshViews(input);
  return new Map(input.zone.members.map((m) => [m, judge(m, views)]));
}

/** Judges one member; undefined when `node` is not in the zone. */
export function tallyNode(node: string, input: TallyInput): TallyResult | undefined {
  return input.zone.has(node) ? judge(node, freshViews(input)) : undefined;
}

/**
 * The tally in one short deterministic line for a Node annotation, e.g.
 * `{"against":1,"for":3,"outcome":"healthy","self":true,"voters":5}`.
 */
export function tallyAnnotation(r: TallyResult): string {
  return canonicalJson({
    outcome: r.outcome,
    for: r.supporters.length,
    against: r.accusers.length,
    voters: r.voters,
    self: r.self,
  });
}
