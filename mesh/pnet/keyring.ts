/**
 * The PSKs a node holds during a rotation: the current key (first in the PSK file), which it dials
 * with, and the previous ones, accepted beside it for a window and then refused.
 *
 * A previous key's window starts when this node first loads a file in which that key is no longer
 * first; the moment is kept in the state directory (`psk-retired.json`), so a restart during the
 * roll does not extend it. A key dropped from the file is refused at once. When a key's window
 * ends, connections that still run on it are closed: tunnels on them resume on a new connection
 * (tunnel/session), which uses a key still accepted.
 */
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Logger } from '../../common/log.ts';
import { MeshError } from '../errors.ts';
import { pskFingerprint } from './psk.ts';

export interface RingKey {
  /** `pskFingerprint` of the key's canonical file: what logs and /status show. */
  id: string;
  /** The 32-byte XSalsa20 key. */
  key: Uint8Array;
}

export interface KeyRingStatus {
  current: string;
  /** Previous keys still accepted, with the end of their window. */
  previous: Array<{ id: string; until: string }>;
}

export interface KeyRingInit {
  /** Canonical one-key files (`parsePskKeys`), the current key first. */
  keys: Uint8Array[];
  /** How long a previous key stays accepted once it stopped being first. */
  windowMs: number;
  /** Where the start of each previous key's window is kept across restarts; none: memory only. */
  statePath?: string;
  log?: Logger;
  now?: () => number;
}

interface Closable {
  abort(err: Error): void;
}

export interface PskKeyRing {
  readonly current: RingKey;
  /** Keys accepted now: the current one first, then previous ones inside their window. */
  accepted(): RingKey[];
  /** A new key list (the PSK file changed) and/or window (the config changed). */
  update(keys: Uint8Array[], windowMs?: number): void;
  /** Registers a connection protected with key `id`; closed if that key stops being accepted. Returns the unregister. */
  track(id: string, conn: Closable): () => void;
  status(): KeyRingStatus;
  /** Stops the expiry timer. */
  close(): void;
}

/**
 * Default window: a Secret update reaches a kubelet in about a minute, but edge nodes (KubeEdge)
 * receive it only while their cloud link is up; an hour lets short outages ride through a roll.
 */
export const DEFAULT_PSK_ROTATION_WINDOW_MS = 60 * 60_000;

/** The label of the nonce hint's MAC (see protector.ts). */
const HINT_LABEL = new TextEncoder().encode('fedmesh/pnet/hint/1');
export const HINT_LENGTH = 8;

/** The 8-byte hint a nonce carries for `key`: HMAC-SHA256(key, label || prefix), truncated. */
export function nonceHint(key: Uint8Array, prefix: Uint8Array): Uint8Array {
  return createHmac('sha256', key).update(HINT_LABEL).update(prefix).digest().subarray(0, HINT_LENGTH);
}

/** A canonical one-key file's key (its third line, 64 hex digits). */
function toRingKey(file: Uint8Array): RingKey {
  const hex = new TextDecoder().decode(file).split('\n')[2] ?? '';
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new MeshError('ERR_PSK_FILE', 'not a canonical PSK v1 file');
  return { id: pskFingerprint(file), key: Uint8Array.from(Buffer.from(hex, 'hex')) };
}

function loadRetired(path: string | undefined): Map<string, number> {
  if (!path) return new Map();
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (raw === null || typeof raw !== 'object') return new Map();
    return new Map(
      Object.entries(raw).filter((e): e is [string, number] => /^[0-9a-f]{8}$/.test(e[0]) && Number.isFinite(e[1])),
    );
  } catch {
    return new Map();
  }
}

export function createKeyRing(init: KeyRingInit): PskKeyRing {
  if (init.keys.length === 0) throw new MeshError('ERR_PSK_FILE', 'no PSK key');
  const now = init.now ?? Date.now;
  const log = init.log;
  let windowMs = init.windowMs;
  let keys = init.keys.map(toRingKey);
  /** Previous key id → when it stopped being current (ms). */
  const retired = loadRetired(init.statePath);
  const conns = new Map<string, Set<Closable>>();
  let timer: NodeJS.Timeout | undefined;

  const save = () => {
    if (!init.statePath) return;
    try {
      writeFileSync(init.statePath, JSON.stringify(Object.fromEntries(retired)), { mode: 0o600 });
    } catch (err) {
      log?.warn({ err: (err as Error).message, path: init.statePath }, 'cannot keep the PSK rotation state');
    }
  };

  const acceptedNow = (): RingKey[] => {
    const t = now();
    return keys.filter((k, i) => i === 0 || (retired.get(k.id) ?? t) + windowMs > t);
  };

  /** Closes connections on keys no longer accepted and arms the timer for the next window end. */
  const enforce = () => {
    clearTimeout(timer);
    timer = undefined;
    const ok = new Set(acceptedNow().map((k) => k.id));
    for (const [id, set] of conns) {
      if (ok.has(id)) continue;
      conns.delete(id);
      if (set.size > 0) log?.info({ pskId: id, connections: set.size }, 'closing connections on a retired PSK');
      for (const c of set) c.abort(new MeshError('ERR_PSK_RETIRED', `PSK ${id} is no longer accepted`));
    }
    const t = now();
    const ends = keys
      .slice(1)
      .map((k) => (retired.get(k.id) ?? t) + windowMs)
      .filter((end) => end > t);
    if (ends.length > 0) {
      timer = setTimeout(
        () => {
          log?.info({ pskIds: keys.filter((k) => !ok.has(k.id)).map((k) => k.id) }, 'PSK rotation window ended');
          enforce();
        },
        Math.min(...ends) - t + 1,
      );
      timer.unref();
    }
  };

  const apply = (files: Uint8Array[]) => {
    keys = files.map(toRingKey);
    const t = now();
    const ids = new Set(keys.map((k) => k.id));
    let changed = false;
    // The current key is not retired (an operator may roll back to it); forgotten keys need no state.
    for (const id of retired.keys()) {
      if (!ids.has(id) || id === keys[0]?.id) changed = retired.delete(id) || changed;
    }
    for (const k of keys.slice(1)) {
      if (!retired.has(k.id)) {
        retired.set(k.id, t);
        changed = true;
      }
    }
    if (changed) save();
  };

  apply(init.keys);
  enforce();

  const ring: PskKeyRing = {
    get current() {
      return keys[0] as RingKey;
    },
    accepted: acceptedNow,
    update(files, nextWindowMs) {
      if (files.length === 0) throw new MeshError('ERR_PSK_FILE', 'no PSK key');
      const before = JSON.stringify(ring.status());
      if (nextWindowMs !== undefined) windowMs = nextWindowMs;
      apply(files);
      enforce();
      const after = ring.status();
      if (JSON.stringify(after) !== before) log?.info(after, 'PSK keys changed');
    },
    track(id, conn) {
      let set = conns.get(id);
      if (!set) {
        set = new Set();
        conns.set(id, set);
      }
      set.add(conn);
      return () => {
        conns.get(id)?.delete(conn);
      };
    },
    status() {
      const t = now();
      return {
        current: ring.current.id,
        previous: acceptedNow()
          .slice(1)
          .map((k) => ({ id: k.id, until: new Date((retired.get(k.id) ?? t) + windowMs).toISOString() })),
      };
    },
    close() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
  return ring;
}
