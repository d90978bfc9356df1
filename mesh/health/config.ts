/**
 * Edge-health configuration (a YAML/JSON document, e.g. a ConfigMap key), every field optional:
 *
 *   period: 5s              # probe every other zone member this often
 *   timeout: 2s             # deadline of one probe (< period)
 *   window: 15s             # a view counts in a tally this long after it arrived (≥ 2 × period)
 *   maxSkew: 10s            # largest |view time − our clock| accepted
 *   failureThreshold: 3     # consecutive failed probes before a neighbour is unhealthy
 *   zones:
 *     enabled: false        # off: every node judges every other
 *     label: fedmesh.io/topology-zone
 *   publish:                # write the views held to the API for the GM (publisher.ts); absent: off
 *     namespace: sedna      # namespace of the views ConfigMaps (the GM's --health-namespace)
 *     kubeconfig: /path     # optional: default in-cluster, then $KUBECONFIG
 *
 * Durations are Go-style (`1500ms`, `5s`, `1m`). Unknown keys are errors. Defaults and their
 * reasons: constants.ts.
 */

import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { parseYamlOrJson } from '../../common/config-text.ts';
import { parseDuration } from '../../common/duration.ts';
import { ConfigError } from '../../common/errors.ts';
import {
  DEFAULT_FAILURE_THRESHOLD,
  DEFAULT_MAX_SKEW_MS,
  DEFAULT_PERIOD_MS,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_WINDOW_MS,
  DEFAULT_ZONE_LABEL,
  DEFAULT_ZONES_ENABLED,
} from './constants.ts';
import type { ZoneConfig } from './zones.ts';

const strict = { additionalProperties: false } as const;
const Duration = Type.String({ pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h))+$', maxLength: 32 });
/** A Kubernetes label key: optional DNS-subdomain prefix and `/`, then a name of ≤ 63 characters. */
const LABEL_KEY =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';

export const HealthConfigSchema = Type.Object(
  {
    period: Type.Optional(Duration),
    timeout: Type.Optional(Duration),
    window: Type.Optional(Duration),
    maxSkew: Type.Optional(Duration),
    failureThreshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
    zones: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          label: Type.Optional(Type.String({ minLength: 1, maxLength: 317, pattern: LABEL_KEY })),
        },
        strict,
      ),
    ),
    publish: Type.Optional(
      Type.Object(
        {
          namespace: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
          kubeconfig: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
        },
        strict,
      ),
    ),
  },
  strict,
);
/** The document as written. */
export type HealthConfigDocument = Static<typeof HealthConfigSchema>;

/** The configuration in force: every value resolved, durations in ms. */
export interface HealthConfig {
  /** Probe period, ms. Default 5 000. */
  periodMs: number;
  /** Deadline of one probe, ms; shorter than the period. Default 2 000. */
  timeoutMs: number;
  /** How long a received view counts, ms; at least two periods. Default 15 000. */
  windowMs: number;
  /** Largest |view time − our wall clock| accepted, ms. Default 10 000. */
  maxSkewMs: number;
  /** Consecutive failed probes before a neighbour is judged unhealthy. Default 3. */
  failureThreshold: number;
  /** Zone grouping. Default: off, label `fedmesh.io/topology-zone`. */
  zones: ZoneConfig;
  /** Views to the API for the GM (publisher.ts); absent: not published. Read at start only. */
  publish?: { namespace: string; kubeconfig?: string };
}

const check = Compile(HealthConfigSchema);
/** Bounds that keep a configuration meaningful (a 1 ms period would probe a zone to death). */
const MIN_PERIOD_MS = 100;
const MAX_PERIOD_MS = 10 * 60_000;

/** Validates a parsed document and resolves defaults. Throws ConfigError naming the first problem. */
export function resolveHealthConfig(value: unknown, source = 'health config'): HealthConfig {
  const doc = value ?? {};
  if (!check.Check(doc)) {
    const first = [...check.Errors(doc)][0] as { instancePath?: string; message?: string } | undefined;
    throw new ConfigError(`${source}: ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`);
  }
  const ms = (field: 'period' | 'timeout' | 'window' | 'maxSkew', fallback: number) => {
    const text = doc[field];
    return text === undefined ? fallback : parseDuration(text);
  };
  const periodMs = ms('period', DEFAULT_PERIOD_MS);
  // Unset timeout and window follow the period, so `period: 30s` alone stays consistent.
  const timeoutMs = ms('timeout', Math.min(DEFAULT_TIMEOUT_MS, Math.floor(periodMs / 2)));
  const windowMs = ms('window', Math.max(DEFAULT_WINDOW_MS, 3 * periodMs));
  const cfg: HealthConfig = {
    periodMs,
    timeoutMs,
    windowMs,
    maxSkewMs: ms('maxSkew', DEFAULT_MAX_SKEW_MS),
    failureThreshold: doc.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD,
    zones: { enabled: doc.zones?.enabled ?? DEFAULT_ZONES_ENABLED, label: doc.zones?.label ?? DEFAULT_ZONE_LABEL },
    ...(doc.publish ? { publish: { ...doc.publish } } : {}),
  };
  if (periodMs < MIN_PERIOD_MS || periodMs > MAX_PERIOD_MS) {
    throw new ConfigError(`${source}: /period must be between ${MIN_PERIOD_MS}ms and ${MAX_PERIOD_MS / 60_000}m`);
  }
  if (timeoutMs <= 0 || timeoutMs >= periodMs) {
    throw new ConfigError(
      `${source}: /timeout (${timeoutMs} ms) must be positive and shorter than /period (${periodMs} ms)`,
    );
  }
  if (windowMs < 2 * periodMs) {
    throw new ConfigError(
      `${source}: /window (${windowMs} ms) must be at least two periods (${2 * periodMs} ms), or every view goes stale before the next one`,
    );
  }
  if (cfg.maxSkewMs <= 0) throw new ConfigError(`${source}: /maxSkew must be positive`);
  return cfg;
}

/** Parses YAML or JSON text, then `resolveHealthConfig`. Empty text is the defaults. */
export async function parseHealthConfig(text: string, source = 'health config'): Promise<HealthConfig> {
  return resolveHealthConfig((await parseYamlOrJson(text, source)) ?? {}, source);
}
