/**
 * The ballot box: verifies incoming views (view.ts), remembers the last (epoch, seq) accepted from
 * each voter so a replay is refused, and keeps each voter's latest view with its arrival time for
 * the tally. One per node agent (judging its own zone) or per GM leader (zone of each voter).
 */

import { ViewRejectedError } from './errors.ts';
import type { Ballot } from './tally.ts';
import { isNewer, type ViewStamp, verifyView } from './view.ts';
import type { Zone } from './zones.ts';

export interface BallotBoxInit {
  /** Largest |view.time − our wall clock| accepted, ms. Default: none — the caller passes config. */
  maxSkewMs: number;
  /**
   * Stamps remembered from before a restart, so views seen then stay refused. Optional: without
   * them the skew bound limits how old a replayed view can be.
   */
  lastAccepted?: ReadonlyMap<string, ViewStamp>;
}

export interface BallotBoxComponents {
  /** Pinned peer ID of a node name (the mesh directory's `peerOf`). */
  keyOf(name: string): string | undefined;
  /** The zone a voter's view is judged in (a node: its own zone; the GM: the voter's, from labels). */
  zoneOf(voter: string): Zone;
  clock: {
    /** Monotonic ms: arrival times, judged against the window. */
    now(): number;
    /** Wall-clock ms: compared with the view's signing time (skew). */
    wall(): number;
  };
}

export interface BallotBox {
  /** Verifies and stores a view; throws ViewRejectedError (nothing stored) when refused. */
  accept(bytes: Uint8Array): Promise<Ballot>;
  /** Every voter's latest accepted view. */
  ballots(): Ballot[];
  /** Last stamp accepted per voter (persist it to keep refusing replays across restarts). */
  stamps(): Map<string, ViewStamp>;
  /** Drops a voter's view and stamp (it left the cluster). */
  forget(voter: string): void;
}

export function createBallotBox(init: BallotBoxInit, c: BallotBoxComponents): BallotBox {
  const stamps = new Map<string, ViewStamp>(init.lastAccepted ?? []);
  const latest = new Map<string, Ballot>();
  return {
    async accept(bytes) {
      const signed = await verifyView(bytes, {
        keyOf: c.keyOf,
        zoneOf: c.zoneOf,
        lastAccepted: (voter) => stamps.get(voter),
        wallNow: c.clock.wall(),
        maxSkewMs: init.maxSkewMs,
      });
      const { view } = signed;
      // Two views of one voter verified concurrently: only the newer may land.
      if (!isNewer(view, stamps.get(view.voter))) {
        throw new ViewRejectedError('ERR_VIEW_REPLAY', `health view rejected: ${view.voter} raced`, view.voter);
      }
      stamps.set(view.voter, { epoch: view.epoch, seq: view.seq });
      const ballot = { view, receivedAt: c.clock.now(), bytes: signed.bytes };
      latest.set(view.voter, ballot);
      return ballot;
    },
    ballots: () => [...latest.values()],
    stamps: () => new Map(stamps),
    forget(voter) {
      stamps.delete(voter);
      latest.delete(voter);
    },
  };
}
