/**
 * The decision for one node, pure: the zone's tally, whether any view of the zone reached the GM,
 * and the last decision (from the Node annotation, so a new leader continues where the old one
 * stopped). The cloud's half of the table (the `Ready` condition) is applied where it acts: the
 * webhook keeps the NoExecute taint off and pods ready only while the outcome is `healthy`, and
 * that matters only once the node lifecycle controller judged the node NotReady.
 */

import type { Outcome, TallyResult } from '../../mesh/health/index.ts';
import { canonicalJson } from '../../mesh/health/view.ts';

/** What the annotation `fedmesh.io/health` holds. */
export interface Decision {
  outcome: Outcome;
  /** True when the outcome is the last one kept because the whole zone is silent to the GM. */
  held: boolean;
  /** GM wall ms when it was decided or last refreshed. */
  at: number;
  /** GM wall ms since when the zone is silent (held decisions only). */
  silentSince?: number;
}

export interface DecideInput {
  tally: TallyResult;
  /** At least one member of the node's zone has a view within the window at the GM. */
  zoneHeard: boolean;
  /** The zone has other members (a node alone is never judged by peers). */
  zoneShared: boolean;
  previous: Decision | undefined;
  now: number;
  holdMs: number;
}

export function decide(i: DecideInput): Decision {
  if (!i.zoneShared) return { outcome: 'unknown', held: false, at: i.now };
  if (i.zoneHeard || !i.previous) return { outcome: i.tally.outcome, held: false, at: i.now };
  // The whole zone is silent to the cloud: its own members may still see each other, and the last
  // views the GM received are the best evidence it has (docs/adr/0006).
  const since = i.previous.held ? (i.previous.silentSince ?? i.previous.at) : i.now;
  if (i.now - since > i.holdMs) return { outcome: 'unknown', held: false, at: i.now };
  return { outcome: i.previous.outcome, held: true, at: i.now, silentSince: since };
}

export function encodeDecision(d: Decision): string {
  const { silentSince, ...rest } = d;
  return canonicalJson(silentSince === undefined ? rest : d);
}

/** Parses the annotation; undefined when absent or not a decision (never trusted beyond its shape). */
export function parseDecision(text: string | undefined): Decision | undefined {
  if (!text) return undefined;
  try {
    const d = JSON.parse(text) as Partial<Decision>;
    if (!['healthy', 'unhealthy', 'unknown'].includes(d.outcome as string)) return undefined;
    if (typeof d.at !== 'number' || typeof d.held !== 'boolean') return undefined;
    const silentSince = typeof d.silentSince === 'number' ? d.silentSince : undefined;
    return {
      outcome: d.outcome as Outcome,
      held: d.held,
      at: d.at,
      ...(silentSince === undefined ? {} : { silentSince }),
    };
  } catch {
    return undefined;
  }
}

/** True when `d` protects the node now: healthy and refreshed within `staleMs`. */
export function protects(d: Decision | undefined, now: number, staleMs: number): boolean {
  return d?.outcome === 'healthy' && now - d.at <= staleMs && d.at <= now + staleMs;
}
