/**
 * Mesh constants, each with the reason for its value. Wire limits are part of the protocol:
 * changing one means a new protocol version.
 */

/** Identify-like exchange of signed node records after every new connection. */
export const NODE_PROTOCOL = '/fedmesh/node/1.0.0';
/** Ask a connected peer for the record of a node it knows (relays know every node that reserved on them). */
export const LOOKUP_PROTOCOL = '/fedmesh/lookup/1.0.0';
/** Tunnel streams: a CONNECT/RESUME header, then session frames (see tunnel/session/codec.ts). */
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
/** Paths a tunnel open tries (each a fresh dial) before it fails: a path may die as it is chosen. */
export const OPEN_ATTEMPTS = 3;

/** Largest tunnel header (JSON); a CONNECT is ~200 bytes, so 4 KiB leaves room and bounds abuse. */
export const MAX_HEADER_BYTES = 4 * 1024;
/** Largest DATA payload in one session frame: bounds what a peer can make us buffer for one frame. */
export const MAX_DATA_FRAME = 64 * 1024;

/**
 * Yamux per-stream window. Our own protector (mesh/pnet) no longer has @libp2p/pnet 3.0.27's
 * WebAssembly memory bug that a larger window tripped; 256 KiB stays because it bounds the memory a
 * stream can pin, and the tunnel is CPU-bound here, not window-bound (docs/mesh.md, Figures).
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

/* Relays without `relayNodes` (relays/reachability.ts, relays/discovery.ts). */

/** Dial-back reachability checks: "dial me back at these addresses" (our stand-in for AutoNAT, see relays/reachability.ts). */
export const REACH_PROTOCOL = '/fedmesh/reach/1.0.0';
/** Peers that must have dialled us back, with no peer disagreeing, before we call ourselves public. */
export const REACH_CONFIRMATIONS = 2;
/** A peer is asked again after this long: a changed network (new NAT) is noticed within it. */
export const REACH_RECHECK_MS = 60_000;
/** A verdict older than this no longer counts (the peer may be gone, the network changed). */
export const REACH_VERDICT_TTL_MS = 3 * 60_000;
/** Deadline of one dial-back (a NAT drops the SYN, so failure is a timeout). */
export const REACH_DIAL_TIMEOUT_MS = 3_000;
/** Addresses a peer may ask us to dial back in one request (bounds the work a request causes). */
export const REACH_MAX_ADDRS = 8;
/**
 * Namespace whose SHA-256 (as a raw CIDv1) is the DHT key relays provide under, as go-libp2p's
 * autorelay peer sources and EdgeMesh's rendezvous string do. Changing it splits the mesh.
 */
export const RELAY_DISCOVERY_NAMESPACE = 'fedmesh/relay/v1';
/** Provider records of relays expire after this (a relay that lost reachability ages out). */
export const RELAY_PROVIDER_TTL_MS = 5 * 60_000;
/** A serving relay re-provides this often (well inside the TTL). */
export const RELAY_PROVIDE_INTERVAL_MS = 60_000;
/** Lookup period while fewer relays than wanted are usable; a lookup is a few DHT round trips. */
export const RELAY_LOOKUP_FAST_MS = 3_000;
/** Lookup period once enough relays are usable (new, nearer relays still get found). */
export const RELAY_LOOKUP_SLOW_MS = 30_000;
/** A discovered relay that failed this many dials in a row is forgotten until a lookup finds it again. */
export const DISCOVERED_RELAY_MAX_FAILURES = 3;
/** A discovered peer whose record does not say "relay" within this long after connecting is dropped. */
export const DISCOVERED_RELAY_VERIFY_MS = 10_000;
/** ... and is not taken from a lookup again for this long (stale provider records). */
export const DISCOVERED_RELAY_RETRY_MS = 60_000;

/**
 * Node flags `fedmesh mesh` runs with (the test harness and the benchmark start it so; a deployment
 * should too: Node refuses this flag in NODE_OPTIONS). The mesh's live heap is small (~25 MB), so V8
 * keeps its old-generation limit low and runs a full collection every ~70 ms under tunnel traffic; a
 * 128 MB initial old space cut that to a few per 64 MiB echoed (docs/mesh.md, Figures).
 */
export const MESH_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=128'];

/* Services advertised on the mesh (advertise/). */

/**
 * Namespace of the DHT keys service providers announce under: SHA-256 of `<namespace>/<name>` as a
 * raw CIDv1. Changing it hides every provider from older nodes.
 */
export const SERVICE_DISCOVERY_NAMESPACE = 'fedmesh/service/v1';
/** A provider re-announces each advertised service this often (provider records live RELAY_PROVIDER_TTL_MS). */
export const SERVICE_PROVIDE_INTERVAL_MS = 60_000;
/** Provider lookup period of a forwarded service while no provider is known (a GM coming up is found fast). */
export const SERVICE_LOOKUP_FAST_MS = 3_000;
/** ... and once providers are known (new replicas in other LANs still get found). */
export const SERVICE_LOOKUP_SLOW_MS = 30_000;
/** RTT probe (ping) period of connected providers of a forwarded service. */
export const SERVICE_PING_INTERVAL_MS = 5_000;
/**
 * Deadline of one provider attempt (connect, open, reply). A live provider answers in well under a
 * second even relayed; past this the next provider is tried, so a silent one costs 3 s, not 10.
 */
export const SERVICE_ATTEMPT_TIMEOUT_MS = 3_000;
/** A provider that failed an attempt is tried after every healthy one for this long. */
export const SERVICE_FAILURE_PENALTY_MS = 30_000;
/** Providers tried for one connection before it fails (bounds the cost of a mesh full of stale ones). */
export const SERVICE_MAX_ATTEMPTS = 8;
/**
 * Inbound connections libp2p accepts from one remote host per second (its default is 5). An edge
 * site is many nodes behind one NAT address, and after a relay dies or a PSK retires they all
 * reconnect to the same relay within a second: at 5 the sixth is reset on accept and waits for
 * its backoff (found by the PSK rotation test, whose nodes all dial from 127.0.0.1). 200 covers a
 * large site; a host past it is still throttled, and `maxConnections` bounds the total.
 */
export const INBOUND_CONNECTIONS_PER_HOST_PER_S = 200;
