/** `fedmesh lc`: the Local Controller of one edge node. */
import { command } from '../common/cli/command.ts';
import { shutdownSignal } from '../common/cli/shutdown.ts';
import { parseDuration } from '../common/duration.ts';
import { ConfigError } from '../common/errors.ts';
import { createLogger } from '../common/log.ts';
import { limitsFromFlags, listenerLimitFlags } from '../common/net/flags.ts';
import { DEFAULT_HTTP_LIMITS } from '../common/net/guard.ts';
import {
  BACKOFF_MAX_MS,
  DATASET_PERIOD_MS,
  DEFAULT_HTTP_LISTEN,
  DEFAULT_ROOTFS,
  DEFAULT_STATE_DIR,
  DEFAULT_TOKEN_FILE,
  LINK_HEARTBEAT_INTERVAL_MS,
  LINK_HEARTBEAT_TIMEOUT_MS,
  MAX_OUTBOX_BYTES,
  MAX_OUTBOX_REPORTS,
  MAX_OUTBOX_REPORTS_PER_OBJECT,
  MAX_REPORT_BYTES,
  PATH_PROBE_PERIOD_MS,
} from './constants.ts';
import type { EdgeApiWrites, FallbackInit } from './fallback/index.ts';
import { createLc } from './index.ts';

/** KubeEdge edgecore's metaServer (metaManager.metaServer.server), on the node's loopback. */
const DEFAULT_EDGE_API = 'http://127.0.0.1:10550';

function parseWrites(v: string): EdgeApiWrites {
  if (v === 'auto' || v === 'on' || v === 'off') return v;
  throw new ConfigError(`--edge-api-writes must be auto, on or off, not "${v}"`);
}

/** The fallback's settings from the flags; undefined with `--edge-api off`. */
function edgeApi(f: {
  'edge-api': string;
  'edge-api-token-file'?: string;
  'edge-api-ca-file'?: string;
  'edge-api-insecure': boolean;
  'edge-api-writes': EdgeApiWrites;
}): Omit<FallbackInit, 'node'> | undefined {
  const url = f['edge-api'];
  if (url === 'off') return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`--edge-api must be an http:// or https:// URL, or off, not "${url}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(`--edge-api must be an http:// or https:// URL, or off, not "${url}"`);
  }
  return {
    url,
    tokenFile: f['edge-api-token-file'],
    caFile: f['edge-api-ca-file'],
    insecure: f['edge-api-insecure'],
    writes: f['edge-api-writes'],
  };
}

const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `ws://a:9000/,b:9000` → ws URLs; Sedna's GM_ADDRESS is `host:port`, dialled as `ws://host:port/`. */
export function parseEndpoints(text: string): string[] {
  const out = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const url = /^[a-z]+:\/\//i.test(s) ? s.replace(/^http/i, 'ws') : `ws://${s}/`;
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        throw new ConfigError(`invalid GM endpoint "${s}"`);
      }
      if (u.protocol !== 'ws:' && u.protocol !== 'wss:')
        throw new ConfigError(`GM endpoint "${s}" is not ws:// or wss://`);
      return u.toString();
    });
  if (!out.length) throw new ConfigError('no GM endpoint given');
  return out;
}

/** A count or size flag: a positive integer, at least `min`. */
const atLeast = (min: number) => (text: string) => {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw new ConfigError(`expected an integer >= ${min}, got "${text}"`);
  }
  return n;
};

function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new ConfigError(`expected HOST:PORT or :PORT, got "${text}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export const lcCommand = command({
  name: 'lc',
  summary: "run a node's Local Controller (GM link with failover, durable store and outbox, worker API)",
  flags: {
    node: { description: "this node's name (default: $NODENAME)", value: 'NAME' },
    gm: { description: 'GM endpoints, comma-separated ws:// URLs or HOST:PORT (default: $GM_ADDRESS)', value: 'URLS' },
    'http-listen': {
      description: `worker API, health and metrics (default: ${DEFAULT_HTTP_LISTEN}, or :$BIND_PORT)`,
      value: 'HOST:PORT',
    },
    ...listenerLimitFlags('http-', 'worker API and HTTP endpoint', DEFAULT_HTTP_LIMITS),
    'state-dir': { description: 'where the store lives', value: 'DIR', default: DEFAULT_STATE_DIR },
    'token-file': {
      description: 'ServiceAccount token (audience fedmesh) presented to the GM, re-read on every dial',
      value: 'FILE',
      default: DEFAULT_TOKEN_FILE,
    },
    'backoff-max': {
      description: 'longest wait before a reconnect (the backoff doubles from 250ms up to it)',
      value: 'DURATION',
      default: `${BACKOFF_MAX_MS / 1000}s`,
      parse: parseDuration,
    },
    'max-report-bytes': {
      description:
        "largest report frame (bytes), the GM's --max-frame-bytes: bigger reports are refused with 413 (also the body limit)",
      value: 'N',
      default: String(MAX_REPORT_BYTES),
      parse: atLeast(1024),
    },
    'max-outbox-bytes': {
      description: 'status bytes waiting for the GM, in all; beyond it workers get 507',
      value: 'N',
      default: String(MAX_OUTBOX_BYTES),
      parse: atLeast(1024),
    },
    'max-outbox-reports': {
      description: 'reports waiting for the GM, in all; beyond it workers get 507',
      value: 'N',
      default: String(MAX_OUTBOX_REPORTS),
      parse: atLeast(1),
    },
    'max-outbox-reports-per-object': {
      description: 'reports waiting for one object (coalesced kinds count once); beyond it workers get 429',
      value: 'N',
      default: String(MAX_OUTBOX_REPORTS_PER_OBJECT),
      parse: atLeast(1),
    },
    rootfs: {
      description: `where the node's / is mounted: local dataset paths resolve under it (default: $ROOTFS_MOUNT_DIR, or ${DEFAULT_ROOTFS})`,
      value: 'DIR',
    },
    'credentials-dir': {
      description:
        'storage credentials for s3:// datasets, one directory per Secret: DIR/NAMESPACE/SECRET/ACCESS_KEY_ID... (docs/lc.md)',
      value: 'DIR',
    },
    'mesh-gm': {
      description:
        "the mesh path: ws:// URL of this node's mesh agent forward to any GM replica (repeatable; e.g. ws://127.0.0.1:19000/)",
      value: 'URL',
      multiple: true,
    },
    'path-probe-period': {
      description: 'while on a worse path, how often each better path is probed with a real handshake',
      value: 'DURATION',
      default: `${PATH_PROBE_PERIOD_MS / 1000}s`,
      parse: parseDuration,
    },
    'heartbeat-interval': {
      description: 'LC-side link heartbeat: a WebSocket ping after this much silence from the GM',
      value: 'DURATION',
      default: `${LINK_HEARTBEAT_INTERVAL_MS}ms`,
      parse: parseDuration,
    },
    'heartbeat-timeout': {
      description: 'a GM link silent this long is dropped and the next path tried (a cut that drops packets)',
      value: 'DURATION',
      default: `${LINK_HEARTBEAT_TIMEOUT_MS}ms`,
      parse: parseDuration,
    },
    'edge-api': {
      description: `the fallback path: Kubernetes API endpoint on or near the node (KubeEdge metaServer, yurthub, an API server), or "off"`,
      value: 'URL',
      default: DEFAULT_EDGE_API,
    },
    'edge-api-token-file': {
      description: 'bearer token file for the edge API, re-read on every request (default: none)',
      value: 'FILE',
    },
    'edge-api-ca-file': {
      description: 'PEM CA bundle for an https:// edge API (default: the system roots)',
      value: 'FILE',
    },
    'edge-api-insecure': { description: 'https:// edge API without verifying its certificate', type: 'boolean' },
    'edge-api-writes': {
      description:
        'write status reports through the edge API: auto (stop when it refuses writes: 403/405/501), on, off',
      value: 'MODE',
      default: 'auto',
      parse: parseWrites,
    },
    'dataset-period': {
      description: 'how often dataset index files are re-read (local files are also watched for changes)',
      value: 'DURATION',
      default: `${DATASET_PERIOD_MS / 1000}s`,
      parse: parseDuration,
    },
  },
  details: [
    "Environment as Sedna's LC: NODENAME, GM_ADDRESS (HOST:PORT), BIND_PORT (worker API port), ROOTFS_MOUNT_DIR.",
    'Workers POST /sedna/workers/NAME/info; reports wait in the store until a GM acknowledged them.',
    'Reports the GM refuses for good are dead letters: GET /fedmesh/dead-letters on the worker API port.',
    'With no GM reachable the LC keeps its objects and its worker API; SIGTERM stops it cleanly (exit 0).',
  ].join('\n'),
  async run({ flags: f }) {
    const node = f.node ?? process.env.NODENAME;
    if (!node || node.length > 253 || !NODE_NAME.test(node)) {
      throw new ConfigError('--node (or $NODENAME) must be a node name (DNS subdomain)');
    }
    const meshEndpoints = (f['mesh-gm'] ?? []).flatMap(parseEndpoints);
    // With mesh URLs the direct path may be left out (a node that reaches GMs only through the mesh).
    const gmText = f.gm ?? process.env.GM_ADDRESS ?? '';
    const endpoints = gmText.trim() || meshEndpoints.length === 0 ? parseEndpoints(gmText) : [];
    const hbInterval = f['heartbeat-interval'];
    const hbTimeout = f['heartbeat-timeout'];
    if (!(hbInterval >= 20 && hbTimeout > hbInterval)) {
      throw new ConfigError('--heartbeat-interval must be at least 20ms and --heartbeat-timeout longer than it');
    }
    if (f['path-probe-period'] < 100) throw new ConfigError('--path-probe-period must be at least 100ms');
    const fallback = edgeApi(f);
    const bindPort = process.env.BIND_PORT;
    const http = parseListen(f['http-listen'] ?? (bindPort ? `:${bindPort}` : DEFAULT_HTTP_LISTEN));
    const log = createLogger({ component: 'lc', node });
    const shutdown = shutdownSignal(log);
    const lc = createLc(
      {
        node,
        endpoints,
        meshEndpoints,
        fallback,
        probePeriodMs: f['path-probe-period'],
        heartbeatIntervalMs: hbInterval,
        heartbeatTimeoutMs: hbTimeout,
        stateDir: f['state-dir'],
        http,
        httpLimits: limitsFromFlags(f, 'http-'),
        tokenFile: f['token-file'],
        backoffMaxMs: Math.max(f['backoff-max'], 250),
        maxReportBytes: f['max-report-bytes'],
        maxOutboxBytes: f['max-outbox-bytes'],
        maxOutboxReports: f['max-outbox-reports'],
        maxOutboxReportsPerObject: f['max-outbox-reports-per-object'],
        rootfs: f.rootfs ?? process.env.ROOTFS_MOUNT_DIR ?? DEFAULT_ROOTFS,
        credentialsDir: f['credentials-dir'],
        datasetPeriodMs: Math.max(f['dataset-period'], 100),
      },
      { log },
    );
    await lc.start(shutdown);
    return 0;
  },
});
