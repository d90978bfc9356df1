/**
 * The node directory: verified records by node name, with the name ↔ peer ID binding pinned on
 * first sight (trust on first use, as ssh's known_hosts) or in advance by configuration. Once
 * pinned, a record that binds the name to another key — or the key to another name — is refused
 * as a conflict, however validly signed: holding the PSK lets a peer join, not impersonate.
 */
import { MeshError } from '../errors.ts';
import type { SignedRecord } from './record.ts';

export type AcceptResult = 'new' | 'updated' | 'stale';

export interface Directory {
  /** Adds a verified record. Throws ERR_NAME_CONFLICT when it contradicts a pinned binding. */
  accept(signed: SignedRecord): AcceptResult;
  /** Latest record of a node name. */
  get(name: string): SignedRecord | undefined;
  /** Node name bound to a peer ID (from a record or a pin). */
  nameOf(peerId: string): string | undefined;
  /** Peer ID bound to a node name (from a record or a pin). */
  peerOf(name: string): string | undefined;
  /** Pins a binding ahead of any record (configuration). Conflicting pins throw ERR_NAME_CONFLICT. */
  pin(name: string, peerId: string): void;
  /** Every pinned binding, for persistence. */
  pins(): Array<{ name: string; peerId: string }>;
  /** Every known record. */
  all(): SignedRecord[];
}

export function createDirectory(init: { pins?: Array<{ name: string; peerId: string }> } = {}): Directory {
  const byName = new Map<string, SignedRecord>();
  const peerByName = new Map<string, string>();
  const nameByPeer = new Map<string, string>();

  const bind = (name: string, peerId: string) => {
    const boundPeer = peerByName.get(name);
    if (boundPeer !== undefined && boundPeer !== peerId) {
      throw new MeshError('ERR_NAME_CONFLICT', `node ${name} is bound to ${boundPeer}, not ${peerId}`);
    }
    const boundName = nameByPeer.get(peerId);
    if (boundName !== undefined && boundName !== name) {
      throw new MeshError('ERR_NAME_CONFLICT', `peer ${peerId} is bound to node ${boundName}, not ${name}`);
    }
    peerByName.set(name, peerId);
    nameByPeer.set(peerId, name);
  };

  const dir: Directory = {
    accept(signed) {
      const { name, peerId, seq } = signed.record;
      bind(name, peerId);
      const current = byName.get(name);
      if (current !== undefined && current.record.seq >= seq) return 'stale';
      byName.set(name, signed);
      return current === undefined ? 'new' : 'updated';
    },
    get: (name) => byName.get(name),
    nameOf: (peerId) => nameByPeer.get(peerId),
    peerOf: (name) => peerByName.get(name),
    pin: (name, peerId) => bind(name, peerId),
    pins: () => [...peerByName].map(([name, peerId]) => ({ name, peerId })),
    all: () => [...byName.values()],
  };
  for (const p of init.pins ?? []) dir.pin(p.name, p.peerId);
  return dir;
}
