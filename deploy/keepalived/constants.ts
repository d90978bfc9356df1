/**
 * Limits and defaults for the rendered keepalived.conf. Every range below was checked against
 * keepalived 2.2.7's own parser (`keepalived -t`): a value outside it is "corrected" with a warning
 * and exit 5, so we refuse it before rendering instead.
 */

/** VRRP instance name when none is given; keepalived's examples and logs use it. */
export const DEFAULT_INSTANCE_NAME = 'VI_1';

/** VRRPv3 by default: only v3 accepts sub-second adverts (RFC 5798 centiseconds). */
export const DEFAULT_VRRP_VERSION = 3;

/**
 * 0.1 s adverts: master-down ≈ 0.36 s. 0.01 s also held up under CPU load in our measurements;
 * 0.1 s leaves margin for CI and busy nodes.
 */
export const DEFAULT_ADVERT_INT_SECONDS = 0.1;

/** VRRPv3 advert_int: 1..4095 centiseconds (12-bit field in the packet). */
export const V3_ADVERT_MIN_SECONDS = 0.01;
export const V3_ADVERT_MAX_SECONDS = 40.95;

/** VRRPv2 advert_int: whole seconds in an 8-bit field. */
export const V2_ADVERT_MIN_SECONDS = 1;
export const V2_ADVERT_MAX_SECONDS = 255;

/** vrrp_script interval/timeout are whole seconds; keepalived caps them at UINT_MAX / 1e6. */
export const SCRIPT_SECONDS_MIN = 1;
export const SCRIPT_SECONDS_MAX = 4294;

/** vrrp_script fall/rise are C ints ≥ 1. */
export const SCRIPT_COUNT_MAX = 2_147_483_647;

/** Defaults of the `script` readiness check: the fastest keepalived allows, never flapped in tests. */
export const DEFAULT_SCRIPT_INTERVAL_SECONDS = 1;
export const DEFAULT_SCRIPT_TIMEOUT_SECONDS = 1;
export const DEFAULT_SCRIPT_FALL = 1;
export const DEFAULT_SCRIPT_RISE = 1;

/** Names of the generated check objects (one per config, so constant names suffice). */
export const SCRIPT_NAME = 'chk_ready';
export const TRACK_FILE_NAME = 'ready_file';

/** The one curl invocation keepalived runs; absolute so PATH in keepalived's environment does not matter. */
export const CURL_PATH = '/usr/bin/curl';

/** Linux IFNAMSIZ is 16 including the NUL. */
export const IFNAME_MAX = 15;

/** router_id and instance names: keepalived has no limit, a hostname label-ish cap keeps logs sane. */
export const NAME_MAX = 63;

/** PATH_MAX; keepalived would truncate a longer track file path. */
export const PATH_MAX = 4095;

/** Readiness-file loop: 5 polls per second, so a flip reaches keepalived well inside one master-down. */
export const DEFAULT_READINESS_INTERVAL_MS = 200;
