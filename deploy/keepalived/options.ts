/**
 * Typed options of one keepalived.conf: one node, one VRRP instance, one readiness check.
 * Every node of a VIP group gets its own rendering (router id, priority, unicast source differ).
 */

/**
 * Readiness through a keepalived `vrrp_script` that curls the GM's /readyz.
 * A failing check puts the instance in FAULT (no `weight`): the node drops the VIP and sends a
 * priority-0 advert. A weighted check would let a node keep the VIP with no ready GM anywhere.
 * Resolution is whole seconds (keepalived's minimum interval is 1 s); use `file` for sub-second.
 */
export interface ScriptReadinessCheck {
  kind: 'script';
  /**
   * Absolute http(s) URL of the local GM's readiness endpoint, e.g. `http://127.0.0.1:8080/readyz`.
   * curl runs in keepalived's network namespace (the host's with hostNetwork). Characters are
   * limited to RFC 3986 ones without `#`, `!`, `$`, quotes, parentheses or `*`, so the URL needs
   * no escaping in keepalived's config syntax.
   */
  url: string;
  /** Seconds between runs; integer 1..4294. Default 1 (keepalived's minimum). */
  intervalSeconds?: number;
  /** Seconds before keepalived kills a run (also curl's `-m`); integer 1..4294. Default 1. */
  timeoutSeconds?: number;
  /** Consecutive failures before the check counts as failed; integer ≥ 1. Default 1. */
  fall?: number;
  /** Consecutive successes before the check counts as OK again; integer ≥ 1. Default 1. */
  rise?: number;
}

/**
 * Readiness through a keepalived `track_file` fed by {@link runReadinessFileLoop}: `0` means
 * ready, anything else FAULT (`weight 0`). keepalived watches the file with inotify, so a flip
 * takes effect within one loop tick (default 200 ms) instead of a script's 1 s minimum.
 * Rendered with `init_file 1 overwrite`: keepalived starts in FAULT until the loop reports ready.
 */
export interface FileReadinessCheck {
  kind: 'file';
  /** Absolute path of the status file, e.g. `/run/fedmesh/ready`; `[A-Za-z0-9._/-]` only. */
  path: string;
}

/** How keepalived learns whether the local GM is the ready leader. */
export type ReadinessCheck = ScriptReadinessCheck | FileReadinessCheck;

/** Unicast VRRP (for networks that drop multicast, e.g. most clouds). */
export interface UnicastInit {
  /** This node's IPv4 address adverts are sent from, no prefix, e.g. `198.18.0.11`. */
  srcIp: string;
  /** The other nodes' IPv4 addresses, no prefix; at least one, distinct, none equal to `srcIp`. */
  peers: string[];
}

/** Options of {@link renderKeepalivedConf}. Plain data: it may come from a YAML or JSON file. */
export interface KeepalivedInit {
  /** `router_id` in global_defs: this node's name in keepalived logs; `[A-Za-z0-9._-]`, ≤ 63 chars. */
  routerId: string;
  /** VRRP instance name, `[A-Za-z0-9._-]`, ≤ 63 chars. Default `VI_1`. */
  instanceName?: string;
  /** Network interface VRRP runs on and the VIPs are added to; ≤ 15 chars, e.g. `eth0`. */
  interface: string;
  /** VRRP virtual router id, integer 1..255; the same on every node of the group, unique per L2 segment. */
  virtualRouterId: number;
  /**
   * VRRP priority, integer 1..255; the highest ready node holds the VIP. Give each node a distinct
   * value (e.g. 100, 99, 98) so elections are deterministic. 255 means "address owner" and is
   * incompatible with `nopreempt`.
   */
  priority: number;
  /** VRRP protocol version, 2 or 3. Default 3 (needed for sub-second adverts). */
  vrrpVersion?: 2 | 3;
  /**
   * Seconds between VRRP adverts; master-down is about 3 × this. VRRPv3: 0.01..40.95 in steps of
   * 0.01; VRRPv2: integer 1..255. Default 0.1.
   */
  advertIntSeconds?: number;
  /**
   * Keep the VIP on the current holder when a higher-priority node becomes ready. keepalived only
   * honours `nopreempt` with `state BACKUP`, which is what we always render. Note: with a
   * leader-only /readyz at most one node is ready, so preemption rarely matters. Default false.
   */
  nopreempt?: boolean;
  /** Unicast adverts to fixed peers. Default: multicast to 224.0.0.18 on `interface`. */
  unicast?: UnicastInit;
  /**
   * Virtual IPv4 addresses with optional prefix, e.g. `198.18.0.50/24` (no prefix means /32);
   * at least one, distinct. Each is rendered as `ADDR dev <interface>`.
   */
  virtualIps: string[];
  /** The readiness check that makes the VIP follow the GM leader. Required. */
  readiness: ReadinessCheck;
}
