/** Values of the node-local service proxy, each with its reason. */

/** nftables table the agent owns; everything it steers lives here, so one delete removes it all. */
export const NFT_TABLE = 'fedmesh';
/** iptables chain (nat table) used where nft is missing; jumped to from OUTPUT. */
export const IPT_CHAIN = 'FEDMESH-SERVICES';
/**
 * nat hook priority: dstnat (-100), as kube-proxy's nft mode; before any filter that matches on
 * the translated address.
 */
export const NAT_PRIORITY = -100;

/**
 * Remote endpoints within this factor of the nearest one's RTT (plus the slack below) share the
 * load: "nearest" with a band, so two equally far endpoints are both used and RTT jitter does not
 * flip every new connection to whichever answered a ping a fraction faster.
 */
export const RTT_BAND_FACTOR = 2;
export const RTT_BAND_SLACK_MS = 5;

/** A direct dial to an endpoint on the same LAN gets this long before the tunnel is tried. */
export const DIRECT_DIAL_TIMEOUT_MS = 1_000;
/** Opening a connection to an endpoint (direct dial or tunnel) in total, before the next is tried. */
export const OPEN_TIMEOUT_MS = 10_000;
/** Endpoints tried per new connection before it is refused. */
export const MAX_ATTEMPTS = 3;
/** An endpoint that just failed is the last choice for this long. */
export const FAILURE_PENALTY_MS = 5_000;

/**
 * UDP flows idle this long are closed (kube-proxy's conntrack UDP timeout is 30 s unreplied,
 * 120 s assured; one value, between the two, keeps DNS-style and streaming flows alike).
 */
export const UDP_IDLE_MS = 60_000;
/** A UDP flow's endpoint choice in all (attempts × their own deadline, bounded). */
export const UDP_OPEN_TIMEOUT_MS = 30_000;
/** Datagrams held per flow while its tunnel opens; more are dropped (UDP may drop). */
export const UDP_PENDING_MAX = 64;
/** Flows per listener; a new one past this is dropped (a flood from spoofed ports). */
export const UDP_MAX_FLOWS = 4_096;

/** ClientIP affinity records kept; the oldest is dropped past this. */
export const AFFINITY_MAX_CLIENTS = 65_536;
