/** The `fedmesh gm` flags of the edge-health side (gm/health), spread into gm/command.ts. */
import { formatDuration, parseDuration } from '../../common/duration.ts';
import { ConfigError } from '../../common/errors.ts';
import { DEFAULT_ZONE_LABEL } from '../../mesh/health/constants.ts';
import { parseListen } from '../http.ts';
import {
  DEFAULT_HOLD_MS,
  DEFAULT_MAX_SKEW_MS,
  DEFAULT_REFRESH_MS,
  DEFAULT_STALE_MS,
  DEFAULT_TICK_MS,
  DEFAULT_WINDOW_MS,
} from './constants.ts';
import type { HealthInit } from './types.ts';

const duration = (what: string, ms: number) =>
  ({ description: what, value: 'DURATION', default: formatDuration(ms), parse: parseDuration }) as const;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export const healthFlags = {
  health: {
    description: 'decide node health from the views the node agents publish (leader) and serve its webhook',
    type: 'boolean',
  },
  'health-namespace': {
    description: 'namespace of the node agents’ views ConfigMaps (default: the lease namespace)',
    value: 'NS',
  },
  'health-zones': { description: 'group nodes into zones by the zone label (as the agents do)', type: 'boolean' },
  'health-zone-label': {
    description: 'node label naming a node’s zone',
    value: 'KEY',
    default: DEFAULT_ZONE_LABEL,
    parse: (v: string) => {
      if (v.length > 316 || !LABEL_KEY.test(v)) throw new ConfigError('expected a label key');
      return v;
    },
  },
  'health-tick': duration('how often the leader re-decides every node', DEFAULT_TICK_MS),
  'health-window': duration('a view counts this long after it reached the GM', DEFAULT_WINDOW_MS),
  'health-max-skew': duration('largest difference between a view’s time and the GM’s clock', DEFAULT_MAX_SKEW_MS),
  'health-refresh': duration('an unchanged decision is rewritten this often', DEFAULT_REFRESH_MS),
  'health-stale': duration('the webhook trusts a decision this long after it was written', DEFAULT_STALE_MS),
  'health-hold': duration('a zone silent to the GM keeps its last outcomes this long', DEFAULT_HOLD_MS),
  'health-webhook-listen': {
    description: 'serve the health admission webhook (TLS) on HOST:PORT (needs --health-webhook-cert/-key)',
    value: 'HOST:PORT',
    parse: parseListen,
  },
  'health-webhook-cert': { description: 'PEM serving certificate of the health webhook', value: 'FILE' },
  'health-webhook-key': { description: 'PEM private key of the health webhook', value: 'FILE' },
} as const;

type Parsed = {
  health: boolean;
  'health-namespace': string | undefined;
  'health-zones': boolean;
  'health-zone-label': string;
  'health-tick': number;
  'health-window': number;
  'health-max-skew': number;
  'health-refresh': number;
  'health-stale': number;
  'health-hold': number;
  'health-webhook-listen': { host: string; port: number } | undefined;
  'health-webhook-cert': string | undefined;
  'health-webhook-key': string | undefined;
};

/** HealthInit from the parsed flags; undefined without `--health`. Throws ConfigError on a bad combination. */
export function healthInitFromFlags(f: Parsed, leaseNamespace: string): HealthInit | undefined {
  if (!f.health) return undefined;
  const listen = f['health-webhook-listen'];
  const cert = f['health-webhook-cert'];
  const key = f['health-webhook-key'];
  if (listen && (!cert || !key)) {
    throw new ConfigError('--health-webhook-listen needs --health-webhook-cert and --health-webhook-key');
  }
  return {
    namespace: f['health-namespace'] ?? leaseNamespace,
    zones: { enabled: f['health-zones'], label: f['health-zone-label'] },
    tickMs: f['health-tick'],
    windowMs: f['health-window'],
    maxSkewMs: f['health-max-skew'],
    refreshMs: f['health-refresh'],
    staleMs: f['health-stale'],
    holdMs: f['health-hold'],
    webhook: listen && cert && key ? { ...listen, certFile: cert, keyFile: key } : undefined,
  };
}
