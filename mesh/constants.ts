/**
 * Mesh constants, each with the reason for its value. Wire limits are part of the protocol:
 * changing one means a new protocol version.
 */

/** Identify-like exchange of signed node records after every new connection. */
export const NODE_PROTOCOL = '/fedmesh/node/1.0.0';
/** Ask a connected peer for the record of a node it knows (relays know every node that reserved on them). */
export const LOOKUP_PROTOCOL = '/fedmesh/lookup/1.0.0';
/** Tunnel streams: a CONNECT/RESUME header, then session frames (see session/codec.ts). */
export const TUNNEL_PROTOCOL = '/fedmesh/tunnel/1.0.0';
/** Our private Kademlia DHT: its own protocol so it never joins the public IPFS DHT. */
export const DHT_PROTOCOL = '/fedmesh/kad/1.0.0';
/** DHT key namespace of node records: `/fedmesh-node/<name>` (kad-dht routes validators by it). */
export const DHT_RECORD_NAMESPACE = 'fedmesh-node';
/** mDNS service tag, so fedmesh nodes only answer each other on a shared LAN. */
export const MDNS_SERVICE_TAG = 'fedmesh';

/** Largest signed node record on the wire; a record holds at most MAX_RECORD_ADDRS short multiaddrs. */
export const MAX_RECORD_BYTES = 8 * 1024;
export const MAX_RECORD_ADDRS = 32;
/** Largest tunnel header (JSON); a CONNECT is ~200 bytes, so 4 KiB leaves room and bounds abuse. */
export const MAX_HEADER_BYTES = 4 * 1024;
/** Largest DATA payload in one session frame. Also keeps every write well under the pnet 640 KiB cliff. */
export const MAX_DATA_FRAME = 64 * 1024;

/**
 * Yamux per-stream window. libp2p's default (16 MiB) lets a single write exceed ~640 KiB, which trips
 * the @libp2p/pnet 3.0.27 WebAssembly memory bug (shared notes); 256 KiB held in every measurement.
 */
export const YAMUX_MAX_STREAM_WINDOW = 256 * 1024;

/** Unacknowledged bytes a session keeps for replay, per direction: the bound of the resume buffer. */
export const DEFAULT_SESSION_BUFFER = 4 * 1024 * 1024;
/** Send an ACK after this many received bytes (a quarter of the peer's buffer keeps it streaming). */
export const DEFAULT_ACK_EVERY = 256 * 1024;
/** Idle keepalive of a session (an ACK frame); also the unit of path-death detection. */
export const DEFAULT_KEEPALIVE_MS = 500;
/** A path that delivered nothing (not even a keepalive) for this long is declared dead. */
export const DEFAULT_PATH_DEAD_MS = 2_000;
/** How long either side keeps a detached session waiting for a resume before giving up. */
export const DEFAULT_RESUME_TIMEOUT_MS = 30_000;

/** Reservations every non-relay node keeps, on the nearest relays by RTT (issue: at least two). */
export const DEFAULT_RESERVATIONS = 2;
/** Relay probe period: connect, ping, re-reserve. Seconds, not EdgeMesh's 120 s heartbeat. */
export const RELAY_PROBE_INTERVAL_MS = 1_000;
/** Deadline of one relay ping (a relay busy with our own traffic answers late, not never). */
export const RELAY_PING_TIMEOUT_MS = 3_000;
/** Consecutive missed pings after which a relay connection is dropped (≈ 4 s of silence). */
export const RELAY_PING_FAILURES_TO_DROP = 3;
/** Dial deadline of one relay connection attempt. */
export const RELAY_DIAL_TIMEOUT_MS = 3_000;
/** Relay reservations the server accepts: a NATed site behind one IP may hold hundreds of nodes. */
export const RELAY_MAX_RESERVATIONS = 4_096;
/** Reservation lifetime on the server; clients refresh ahead of expiry. */
export const RELAY_RESERVATION_TTL_MS = 60 * 60 * 1000;
/** Simultaneous relayed circuits a relay serves (hop streams in and stop streams out). */
export const RELAY_MAX_CIRCUITS = 4_096;

/** A direct dial gets this head start before relayed paths are tried in parallel. */
export const DIRECT_HEAD_START_MS = 300;
/** Deadline for reaching a node on any path when opening a tunnel. */
export const DEFAULT_OPEN_TIMEOUT_MS = 10_000;
/** Deadline of one DHT operation (put or get of a record). */
export const DHT_TIMEOUT_MS = 5_000;

/** Default listen port, as EdgeMesh's tunnel. */
export const DEFAULT_LISTEN_PORT = 20006;
