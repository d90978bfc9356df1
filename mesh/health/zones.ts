/**
 * Zones: which nodes probe and judge each other, from node labels (TKE's multi-region rule).
 *
 * - zones off: one zone of every node (id `*`), whatever their labels;
 * - zones on, node labelled `label=value` (non-empty): the nodes with the same value (id `value`);
 * - zones on, node without the label (or with an empty value): a zone of the node alone (id ``),
 *   so it probes nobody and nobody judges it — Kubernetes alone decides about it.
 */
import { ALL_NODES_ZONE } from './constants.ts';

export interface ZoneConfig {
  /** Group nodes by `label`; off means every node is in one zone. */
  enabled: boolean;
  /** The node label whose value names the zone. */
  label: string;
}

/** A node as zones see it: its name and labels (from the Node object). */
export interface LabelledNode {
  name: string;
  labels?: Readonly<Record<string, string>> | undefined;
}

export interface Zone {
  /** `*` (zones off), the label value, or `` (a node alone: zones on, no label). */
  id: string;
  /** Member node names, sorted, the node itself included. */
  members: readonly string[];
  has(name: string): boolean;
}

function makeZone(id: string, members: Iterable<string>): Zone {
  const set = new Set(members);
  return { id, members: [...set].sort(), has: (name) => set.has(name) };
}

/** The zone id a node's labels give it (see the module comment). */
export function zoneIdOf(node: LabelledNode | undefined, cfg: ZoneConfig): string {
  if (!cfg.enabled) return ALL_NODES_ZONE;
  return node?.labels?.[cfg.label] ?? '';
}

/**
 * Indexes `nodes` into zones once; `zoneOf(name)` is then the zone of any node. A name not among
 * `nodes` (its Node object not seen yet) has no labels: alone with zones on, with everyone off.
 */
export function createZoneIndex(nodes: readonly LabelledNode[], cfg: ZoneConfig): { zoneOf(name: string): Zone } {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const byId = new Map<string, Zone>();
  const groups = new Map<string, string[]>();
  for (const n of byName.values()) {
    const id = zoneIdOf(n, cfg);
    if (id === '') continue;
    const g = groups.get(id);
    if (g === undefined) groups.set(id, [n.name]);
    else g.push(n.name);
  }
  for (const [id, names] of groups) byId.set(id, makeZone(id, names));
  return {
    zoneOf(name) {
      const id = zoneIdOf(byName.get(name), cfg);
      if (id === '') return makeZone('', [name]);
      // Zones off and a node not listed yet: it is still in the one zone of everyone.
      const zone = byId.get(id);
      if (zone === undefined || !zone.has(name)) return makeZone(id, [...(zone?.members ?? []), name]);
      return zone;
    },
  };
}

/** The zone of `self` among `nodes` (a node agent's view of its own zone). */
export function zoneOf(self: string, nodes: readonly LabelledNode[], cfg: ZoneConfig): Zone {
  return createZoneIndex(nodes, cfg).zoneOf(self);
}
