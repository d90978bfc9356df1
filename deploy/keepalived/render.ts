import {
  CURL_PATH,
  DEFAULT_ADVERT_INT_SECONDS,
  DEFAULT_INSTANCE_NAME,
  DEFAULT_SCRIPT_FALL,
  DEFAULT_SCRIPT_INTERVAL_SECONDS,
  DEFAULT_SCRIPT_RISE,
  DEFAULT_SCRIPT_TIMEOUT_SECONDS,
  DEFAULT_VRRP_VERSION,
  IFNAME_MAX,
  NAME_MAX,
  PATH_MAX,
  SCRIPT_COUNT_MAX,
  SCRIPT_NAME,
  SCRIPT_SECONDS_MAX,
  SCRIPT_SECONDS_MIN,
  TRACK_FILE_NAME,
  V2_ADVERT_MAX_SECONDS,
  V2_ADVERT_MIN_SECONDS,
  V3_ADVERT_MAX_SECONDS,
  V3_ADVERT_MIN_SECONDS,
} from './constants.ts';
import { KeepalivedOptionError } from './errors.ts';
import { isHostAddress, parseIpv4 } from './ipv4.ts';
import type { KeepalivedInit, ReadinessCheck } from './options.ts';

const NAME_RE = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${NAME_MAX - 1}}$`);
const IFNAME_RE = new RegExp(`^[A-Za-z0-9_.-]{1,${IFNAME_MAX}}$`);
// RFC 3986 characters minus those keepalived's config syntax or its script splitter could treat
// specially: quotes and backslash, `#`/`!` (comments), `$` (config variables), braces, whitespace.
const URL_CHARS_RE = /^[A-Za-z0-9\-._~:/?[\]@&=+,;%]+$/;
const PATH_RE = /^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/;

const TOP_KEYS = new Set([
  'routerId',
  'instanceName',
  'interface',
  'virtualRouterId',
  'priority',
  'vrrpVersion',
  'advertIntSeconds',
  'nopreempt',
  'unicast',
  'virtualIps',
  'readiness',
]);
const UNICAST_KEYS = new Set(['srcIp', 'peers']);
const SCRIPT_KEYS = new Set(['kind', 'url', 'intervalSeconds', 'timeoutSeconds', 'fall', 'rise']);
const FILE_KEYS = new Set(['kind', 'path']);

function fail(field: string, message: string): never {
  throw new KeepalivedOptionError(field, message);
}

function record(value: unknown, field: string, keys: Set<string>): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(field || 'options', 'must be an object');
  // keepalived ignores unknown keywords silently; we refuse unknown options so a typo is not a default.
  for (const k of Object.keys(value)) {
    if (!keys.has(k)) fail(field === '' ? k : `${field}.${k}`, 'unknown option');
  }
  return value as Record<string, unknown>;
}

function name(value: unknown, field: string): void {
  if (typeof value !== 'string' || !NAME_RE.test(value)) {
    fail(field, `must be 1..${NAME_MAX} characters of [A-Za-z0-9._-], starting with a letter or digit`);
  }
}

function integer(value: unknown, field: string, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(field, `must be an integer in ${min}..${max}`);
  }
}

function hostIp(value: unknown, field: string): string {
  const ip = typeof value === 'string' ? parseIpv4(value) : undefined;
  if (ip === undefined || ip.prefix !== undefined) fail(field, 'must be a dotted-quad IPv4 address without prefix');
  if (!isHostAddress(ip.address)) fail(field, 'must be a unicast host address (not 0/8, 127/8 or ≥ 224/4)');
  return ip.address;
}

function validateAdvert(value: unknown, version: 2 | 3): void {
  const field = 'advertIntSeconds';
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(field, 'must be a number of seconds');
  if (version === 2) {
    // VRRPv2 carries whole seconds; keepalived would round 0.1 to 1 s with only a warning.
    integer(value, field, V2_ADVERT_MIN_SECONDS, V2_ADVERT_MAX_SECONDS);
    return;
  }
  const centis = value * 100;
  if (value < V3_ADVERT_MIN_SECONDS || value > V3_ADVERT_MAX_SECONDS || Math.abs(centis - Math.round(centis)) > 1e-6) {
    fail(field, `must be ${V3_ADVERT_MIN_SECONDS}..${V3_ADVERT_MAX_SECONDS} seconds in steps of 0.01 with VRRPv3`);
  }
}

function validateReadiness(value: unknown): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('readiness', 'must be an object');
  const kind = (value as { kind?: unknown }).kind;
  if (kind === 'script') {
    const r = record(value, 'readiness', SCRIPT_KEYS);
    const url = r.url;
    if (typeof url !== 'string' || !URL_CHARS_RE.test(url) || !URL.canParse(url)) {
      fail('readiness.url', 'must be an absolute http(s) URL without quotes, spaces, #, !, $ or parentheses');
    }
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') fail('readiness.url', 'must be http or https');
    // The rendered config usually lands in a ConfigMap: keep credentials out of it.
    if (parsed.username !== '' || parsed.password !== '') fail('readiness.url', 'must not carry credentials');
    for (const k of ['intervalSeconds', 'timeoutSeconds'] as const) {
      if (r[k] !== undefined) integer(r[k], `readiness.${k}`, SCRIPT_SECONDS_MIN, SCRIPT_SECONDS_MAX);
    }
    for (const k of ['fall', 'rise'] as const) {
      if (r[k] !== undefined) integer(r[k], `readiness.${k}`, 1, SCRIPT_COUNT_MAX);
    }
    return;
  }
  if (kind === 'file') {
    const r = record(value, 'readiness', FILE_KEYS);
    const path = r.path;
    if (typeof path !== 'string' || path.length > PATH_MAX || !PATH_RE.test(path)) {
      fail('readiness.path', `must be an absolute file path of [A-Za-z0-9._/-], at most ${PATH_MAX} characters`);
    }
    if (path.split('/').some((seg) => seg === '.' || seg === '..')) fail('readiness.path', 'must be normalised');
    return;
  }
  fail('readiness.kind', "must be 'script' or 'file'");
}

/**
 * Checks options (possibly read from YAML/JSON) against keepalived's own limits and our safety
 * rules; throws {@link KeepalivedOptionError} (a ConfigError, code `ERR_CONFIG`) naming the first
 * offending field. Nothing is rendered from input that keepalived would "correct" with a warning.
 */
export function validateKeepalivedInit(opts: unknown): asserts opts is KeepalivedInit {
  const o = record(opts, '', TOP_KEYS);
  name(o.routerId, 'routerId');
  if (o.instanceName !== undefined) name(o.instanceName, 'instanceName');
  const ifname = o.interface;
  if (typeof ifname !== 'string' || !IFNAME_RE.test(ifname) || ifname === '.' || ifname === '..') {
    fail('interface', `must be 1..${IFNAME_MAX} characters of [A-Za-z0-9_.-]`);
  }
  integer(o.virtualRouterId, 'virtualRouterId', 1, 255);
  integer(o.priority, 'priority', 1, 255);
  const version = o.vrrpVersion ?? DEFAULT_VRRP_VERSION;
  if (version !== 2 && version !== 3) fail('vrrpVersion', 'must be 2 or 3');
  validateAdvert(o.advertIntSeconds ?? DEFAULT_ADVERT_INT_SECONDS, version);
  if (o.nopreempt !== undefined && typeof o.nopreempt !== 'boolean') fail('nopreempt', 'must be a boolean');
  // keepalived resets nopreempt for the address owner and `-t` exits 5.
  if (o.nopreempt === true && o.priority === 255) fail('nopreempt', 'is incompatible with priority 255');

  const owned = new Set<string>();
  if (o.unicast !== undefined) {
    const u = record(o.unicast, 'unicast', UNICAST_KEYS);
    const src = hostIp(u.srcIp, 'unicast.srcIp');
    owned.add(src);
    if (!Array.isArray(u.peers) || u.peers.length === 0) fail('unicast.peers', 'must be a non-empty array');
    u.peers.forEach((p: unknown, i: number) => {
      const field = `unicast.peers[${i}]`;
      const peer = hostIp(p, field);
      if (peer === src) fail(field, 'must differ from unicast.srcIp');
      if (owned.has(peer)) fail(field, 'is listed twice');
      owned.add(peer);
    });
  }

  if (!Array.isArray(o.virtualIps) || o.virtualIps.length === 0) fail('virtualIps', 'must be a non-empty array');
  const vips = new Set<string>();
  o.virtualIps.forEach((v: unknown, i: number) => {
    const field = `virtualIps[${i}]`;
    const ip = typeof v === 'string' ? parseIpv4(v) : undefined;
    if (ip === undefined || ip.prefix === 0) fail(field, 'must be a dotted-quad IPv4 address with optional /1../32');
    if (!isHostAddress(ip.address)) fail(field, 'must be a unicast host address (not 0/8, 127/8 or ≥ 224/4)');
    if (vips.has(ip.address)) fail(field, 'is listed twice');
    if (owned.has(ip.address)) fail(field, 'must not be a node address (unicast.srcIp or a peer)');
    vips.add(ip.address);
  });

  validateReadiness(o.readiness);
}

function renderCheck(r: ReadinessCheck): { global: string[]; top: string[]; track: string[] } {
  if (r.kind === 'file') {
    return {
      global: [],
      top: [
        `track_file ${TRACK_FILE_NAME} {`,
        `    file "${r.path}"`,
        '    # weight 0: any value but 0 puts the instance in FAULT',
        '    weight 0',
        '    # start not ready until the readiness loop writes 0',
        '    init_file 1 overwrite',
        '}',
      ],
      track: ['    track_file {', `        ${TRACK_FILE_NAME}`, '    }'],
    };
  }
  const timeout = r.timeoutSeconds ?? DEFAULT_SCRIPT_TIMEOUT_SECONDS;
  return {
    // Debian has no keepalived_script user, and a non-root script_user makes `keepalived -t` kill
    // itself; both lines are needed or keepalived drops the check and grabs the VIP regardless.
    global: ['    script_user root', '    enable_script_security'],
    top: [
      `vrrp_script ${SCRIPT_NAME} {`,
      `    script "${CURL_PATH} -fsS -o /dev/null -m ${timeout} ${r.url}"`,
      `    interval ${r.intervalSeconds ?? DEFAULT_SCRIPT_INTERVAL_SECONDS}`,
      `    timeout ${timeout}`,
      `    fall ${r.fall ?? DEFAULT_SCRIPT_FALL}`,
      `    rise ${r.rise ?? DEFAULT_SCRIPT_RISE}`,
      '    # no weight: a failing check puts the instance in FAULT and drops the VIP',
      '}',
    ],
    track: ['    track_script {', `        ${SCRIPT_NAME}`, '    }'],
  };
}

/**
 * Renders one node's keepalived.conf. Validates first (throws KeepalivedOptionError). The output
 * is deterministic: the same options give byte-identical text, in the options' order.
 * Never emits `vrrp_strict` (its nftables rules drop traffic to the VIP).
 */
export function renderKeepalivedConf(opts: KeepalivedInit): string {
  validateKeepalivedInit(opts);
  const version = opts.vrrpVersion ?? DEFAULT_VRRP_VERSION;
  const advert = opts.advertIntSeconds ?? DEFAULT_ADVERT_INT_SECONDS;
  const check = renderCheck(opts.readiness);
  const lines = [
    '# Rendered by fedmesh deploy/keepalived. Gate every change on: keepalived -t -f <this file>',
    'global_defs {',
    `    router_id ${opts.routerId}`,
    ...check.global,
    '}',
    ...check.top,
    `vrrp_instance ${opts.instanceName ?? DEFAULT_INSTANCE_NAME} {`,
    // Every node starts as BACKUP and the election decides; nopreempt also requires it.
    '    state BACKUP',
    `    interface ${opts.interface}`,
    `    virtual_router_id ${opts.virtualRouterId}`,
    `    priority ${opts.priority}`,
    `    version ${version}`,
    `    advert_int ${String(Math.round(advert * 100) / 100)}`,
  ];
  if (opts.nopreempt === true) lines.push('    nopreempt');
  if (opts.unicast !== undefined) {
    // One peer per line: `unicast_peer { A B }` on one line is misparsed by keepalived.
    lines.push(`    unicast_src_ip ${opts.unicast.srcIp}`, '    unicast_peer {');
    for (const p of opts.unicast.peers) lines.push(`        ${p}`);
    lines.push('    }');
  }
  lines.push('    virtual_ipaddress {');
  for (const v of opts.virtualIps) lines.push(`        ${v} dev ${opts.interface}`);
  lines.push('    }', ...check.track, '}');
  return `${lines.join('\n')}\n`;
}
