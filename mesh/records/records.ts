/**
 * Publishing and learning node records. Every node signs its own record (name, peer ID, addrs,
 * relay flag, seq) and
 *   - exchanges it with each peer it connects to on `/fedmesh/node/1.0.0` (initiator sends its
 *     record, responder answers with its own; each side checks that the record's peer ID is the
 *     authenticated remote peer of the connection),
 *   - stores it in the private DHT under `/fedmesh-node/<name>`, where nodes that were never
 *     connected find it; DHT peers validate records before storing them and prefer the highest seq.
 *   - answers lookups on `/fedmesh/lookup/1.0.0` (a name in, that node's record out — signed by
 *     that node, so the answering peer cannot forge it): a node asks the peers it is connected to,
 *     its relays above all, which know every node holding a reservation on them.
 * Verified records go into the directory (pinning name ↔ peer ID) and their addresses into the
 * libp2p peer store, so a later dial knows where to go.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection, Libp2p, PeerId, PrivateKey, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Logger } from '../../common/log.ts';
import {
  DHT_RECORD_NAMESPACE,
  DHT_TIMEOUT_MS,
  LOOKUP_PROTOCOL,
  MAX_RECORD_ADDRS,
  MAX_RECORD_BYTES,
  NODE_PROTOCOL,
} from '../constants.ts';
import { MeshError } from '../errors.ts';
import { readMessage, writeMessage } from '../stream-io.ts';
import type { Directory } from './directory.ts';
import type { RecordStore } from './kube-store.ts';
import { type NodeRecord, type SignedRecord, signRecord, verifyRecord } from './record.ts';

/** The kad-dht service surface we use. */
export interface Dht {
  put(key: Uint8Array, value: Uint8Array, options?: { signal?: AbortSignal }): AsyncIterable<unknown>;
  get(
    key: Uint8Array,
    options?: { signal?: AbortSignal },
  ): AsyncIterable<{ name: string; record?: { value: Uint8Array } }>;
}

export interface RecordServiceInit {
  name: string;
  stateDir: string;
  privateKey: PrivateKey;
  directory: Directory;
  /** Is this node serving as a relay right now? */
  isRelay: () => boolean;
  /** This node's health zone (mesh config `zone`), carried in its record. */
  zone?: string;
  /** Services this node advertises now (config `advertise`), carried in its record. */
  services?: () => Array<{ name: string; host: string; port: number; endorsement?: string }>;
  /** Records also kept outside the mesh (the Kubernetes API: kube-store.ts), for relays that run none of ours. */
  store?: RecordStore;
}

export interface RecordServiceComponents {
  libp2p: Libp2p;
  dht: Dht;
  log: Logger;
}

export interface RecordService {
  /** Re-signs our record (new seq, current addresses) and pushes it to peers and the DHT. */
  publish(): Promise<void>;
  /** Our current signed record. */
  own(): SignedRecord | undefined;
  /** Peer ID of a node name: directory first, then the DHT, peers and the store. Throws ERR_UNKNOWN_NODE. */
  resolve(name: string, signal: AbortSignal): Promise<PeerId>;
  /** Called with every newly accepted or updated record. */
  onRecord(fn: (r: SignedRecord) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const dhtKey = (name: string) => new TextEncoder().encode(`/${DHT_RECORD_NAMESPACE}/${name}`);
const PINS_FILE = 'known-nodes.json';

/** kad-dht validator for our namespace: a record is stored only if it verifies and matches its key. */
export async function validateDhtRecord(key: Uint8Array, value: Uint8Array): Promise<void> {
  const { record } = await verifyRecord(value);
  if (new TextDecoder().decode(key) !== `/${DHT_RECORD_NAMESPACE}/${record.name}`) {
    throw new MeshError('ERR_RECORD_INVALID', 'record stored under another name');
  }
}

/** kad-dht selector: the record with the highest seq (invalid ones never win). */
export async function selectDhtRecord(_key: Uint8Array, values: Uint8Array[]): Promise<number> {
  let best = 0;
  let bestSeq = -1;
  for (const [i, v] of values.entries()) {
    const seq = await verifyRecord(v).then(
      (r) => r.record.seq,
      () => -1,
    );
    if (seq > bestSeq) {
      best = i;
      bestSeq = seq;
    }
  }
  return best;
}

export function createRecordService(init: RecordServiceInit, components: RecordServiceComponents): RecordService {
  const { libp2p, dht } = components;
  const log = components.log.child({ component: 'mesh.records' });
  const { directory } = init;
  const self = libp2p.peerId.toString();
  const listeners: Array<(r: SignedRecord) => void> = [];
  let own: SignedRecord | undefined;
  let lastSeq = 0;
  let publishing: Promise<void> | undefined;
  let again = false;
  let pinsSaved = '';
  const stopper = new AbortController();

  let saving: Promise<void> = Promise.resolve();
  /** Persists the pins (serialised: one writer at a time, always the latest state). */
  const savePins = () => {
    saving = saving.then(async () => {
      const text = JSON.stringify(directory.pins(), null, 2);
      if (text === pinsSaved) return;
      const path = join(init.stateDir, PINS_FILE);
      await writeFile(`${path}.tmp`, text, { mode: 0o600 });
      await rename(`${path}.tmp`, path);
      pinsSaved = text;
    });
    return saving;
  };

  /** Accepts a verified record; logs and drops conflicts. Returns true when it was new information. */
  const learn = async (signed: SignedRecord, via: string): Promise<boolean> => {
    if (signed.record.peerId === self) return false;
    let result: string;
    try {
      result = directory.accept(signed);
    } catch (err) {
      log.warn(
        { err, code: (err as MeshError).code, node: signed.record.name, peer: signed.record.peerId, via },
        'node record refused',
      );
      return false;
    }
    if (result === 'stale') return false;
    const peer = peerIdFromString(signed.record.peerId);
    const addrs = signed.record.addrs.flatMap((a) => {
      try {
        return [multiaddr(a)];
      } catch {
        return [];
      }
    });
    await libp2p.peerStore
      .merge(peer, { multiaddrs: addrs })
      .catch((err: unknown) => log.debug({ err }, 'peer store merge failed'));
    const fields = {
      node: signed.record.name,
      peer: signed.record.peerId,
      seq: signed.record.seq,
      relay: signed.record.relay,
      via,
    };
    if (result === 'new') log.info(fields, 'node record learned');
    else log.debug(fields, 'node record updated');
    for (const fn of listeners) fn(signed);
    void savePins().catch((err: unknown) => log.warn({ err }, 'cannot save known nodes'));
    return true;
  };

  /** Receives and checks the peer's record on a stream of `conn`. */
  const receive = async (stream: Stream, conn: Connection): Promise<void> => {
    const bytes = await readMessage(stream, MAX_RECORD_BYTES, AbortSignal.timeout(10_000));
    const signed = await verifyRecord(bytes);
    if (signed.record.peerId !== conn.remotePeer.toString()) {
      throw new MeshError('ERR_RECORD_INVALID', `record of ${signed.record.peerId} sent by ${conn.remotePeer}`);
    }
    await learn(signed, 'handshake');
  };

  const exchange = async (conn: Connection): Promise<void> => {
    if (!own || conn.status !== 'open') return;
    let stream: Stream | undefined;
    try {
      stream = await conn.newStream(NODE_PROTOCOL, {
        runOnLimitedConnection: true,
        signal: AbortSignal.timeout(10_000),
      });
      await writeMessage(stream, own.bytes);
      await receive(stream, conn);
      await stream.close();
    } catch (err) {
      stream?.abort(err as Error);
      log.debug({ err, peer: conn.remotePeer.toString() }, 'record exchange failed');
    }
  };

  const onIdentify = (evt: CustomEvent<{ connection: Connection; protocols: string[] }>) => {
    if (evt.detail.protocols.includes(NODE_PROTOCOL)) void exchange(evt.detail.connection);
  };

  const currentRecord = (): NodeRecord => {
    const addrs = libp2p
      .getMultiaddrs()
      .map((ma) => ma.toString().replace(new RegExp(`/p2p/${self}$`), ''))
      // Direct addresses first: when the list is cut, relayed ones (reachable another way) go.
      .sort((a, b) => Number(a.includes('/p2p-circuit')) - Number(b.includes('/p2p-circuit')))
      .slice(0, MAX_RECORD_ADDRS);
    lastSeq = Math.max(lastSeq + 1, Date.now());
    const record: NodeRecord = { v: 1, name: init.name, peerId: self, addrs, relay: init.isRelay(), seq: lastSeq };
    if (init.zone !== undefined) record.zone = init.zone;
    const services = init.services?.() ?? [];
    if (services.length > 0) {
      record.services = services.map((x) => ({
        name: x.name,
        host: x.host,
        port: x.port,
        ...(x.endorsement === undefined ? {} : { endorsement: x.endorsement }),
      }));
    }
    return record;
  };

  const doPublish = async () => {
    own = await signRecord(currentRecord(), init.privateKey);
    const conns = libp2p.getConnections().filter((c) => c.status === 'open');
    await Promise.all(conns.map((c) => exchange(c)));
    if (stopper.signal.aborted) return;
    try {
      const signal = AbortSignal.any([stopper.signal, AbortSignal.timeout(DHT_TIMEOUT_MS)]);
      const events: Record<string, number> = {};
      for await (const evt of dht.put(dhtKey(init.name), own.bytes, { signal })) {
        const name = (evt as { name?: string }).name ?? 'event';
        events[name] = (events[name] ?? 0) + 1;
      }
      log.debug({ seq: own.record.seq, events }, 'record stored in the DHT');
    } catch (err) {
      log.debug({ err }, 'record not stored in the DHT (no DHT peers yet?)');
    }
    if (init.store && !stopper.signal.aborted) {
      const signal = AbortSignal.any([stopper.signal, AbortSignal.timeout(DHT_TIMEOUT_MS)]);
      await init.store
        .put(own.record, own.bytes, signal)
        .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'record not stored in the Kubernetes API'));
    }
  };

  const svc: RecordService = {
    own: () => own,
    onRecord: (fn) => listeners.push(fn),
    publish() {
      if (publishing) {
        again = true;
        return publishing;
      }
      publishing = (async () => {
        do {
          again = false;
          await doPublish().catch((err: unknown) => log.warn({ err }, 'record publication failed'));
        } while (again && !stopper.signal.aborted);
      })().finally(() => {
        publishing = undefined;
      });
      return publishing;
    },
    async resolve(name, signal) {
      const known = directory.get(name)?.record.peerId ?? directory.peerOf(name);
      if (known) return peerIdFromString(known);
      const sig = AbortSignal.any([signal, AbortSignal.timeout(DHT_TIMEOUT_MS)]);
      const events: Record<string, number> = {};
      const fromDht = async () => {
        for await (const evt of dht.get(dhtKey(name), { signal: sig })) {
          events[evt.name] = (events[evt.name] ?? 0) + 1;
          if (evt.name !== 'VALUE' || !evt.record) continue;
          const signed = await verifyRecord(evt.record.value).catch(() => undefined);
          if (signed?.record.name === name) return signed;
        }
        throw new Error('not in the DHT');
      };
      const fromPeer = async (conn: Connection) => {
        const stream = await conn.newStream(LOOKUP_PROTOCOL, { runOnLimitedConnection: true, signal: sig });
        try {
          await writeMessage(stream, new TextEncoder().encode(name), sig);
          const bytes = await readMessage(stream, MAX_RECORD_BYTES, sig);
          const signed = await verifyRecord(bytes);
          if (signed.record.name !== name) throw new Error('record of another node');
          return signed;
        } finally {
          stream.abort(new Error('done'));
        }
      };
      const store = init.store;
      const fromStore = async () => {
        const bytes = store ? await store.get(name, sig) : undefined;
        if (!bytes) throw new Error('not in the store');
        const signed = await verifyRecord(bytes);
        if (signed.record.name !== name) throw new Error('record of another node');
        return signed;
      };
      const peers = libp2p
        .getConnections()
        .filter((c) => c.status === 'open')
        .slice(0, 16);
      try {
        const signed = await Promise.any([fromDht(), fromStore(), ...peers.map(fromPeer)]);
        await learn(signed, 'lookup');
      } catch (err) {
        log.debug({ node: name, events, err: (err as Error).message }, 'lookup found no record');
      }
      const found = directory.peerOf(name);
      if (!found) throw new MeshError('ERR_UNKNOWN_NODE', `no record of node ${name}`);
      return peerIdFromString(found);
    },
    async start() {
      try {
        const pins = JSON.parse(await readFile(join(init.stateDir, PINS_FILE), 'utf8')) as Array<{
          name: string;
          peerId: string;
        }>;
        for (const p of pins) {
          try {
            directory.pin(p.name, p.peerId);
          } catch (err) {
            log.warn({ err, node: p.name }, 'known node pin conflicts with configuration; configuration wins');
          }
        }
        pinsSaved = JSON.stringify(directory.pins(), null, 2);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err }, 'cannot read known nodes');
      }
      await libp2p.handle(
        NODE_PROTOCOL,
        async (stream, conn) => {
          try {
            await receive(stream, conn);
            if (own) await writeMessage(stream, own.bytes);
            await stream.close();
          } catch (err) {
            stream.abort(err as Error);
            log.debug({ err, peer: conn.remotePeer.toString() }, 'record exchange refused');
          }
        },
        { runOnLimitedConnection: true },
      );
      await libp2p.handle(
        LOOKUP_PROTOCOL,
        async (stream) => {
          try {
            const name = new TextDecoder().decode(await readMessage(stream, 253, AbortSignal.timeout(5_000)));
            const rec = name === init.name ? own : directory.get(name);
            await writeMessage(stream, rec?.bytes ?? new Uint8Array(0));
            await stream.close();
          } catch (err) {
            stream.abort(err as Error);
          }
        },
        { runOnLimitedConnection: true },
      );
      libp2p.addEventListener('peer:identify', onIdentify);
      // Signed now (peers connecting from now on get it); pushing it to the DHT runs in the background.
      own = await signRecord(currentRecord(), init.privateKey);
      void svc.publish();
    },
    async stop() {
      stopper.abort();
      libp2p.removeEventListener('peer:identify', onIdentify);
      await publishing;
    },
  };
  return svc;
}
