import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { command } from '../common/cli/command.ts';
import { shutdownSignal } from '../common/cli/shutdown.ts';
import { formatDuration, parseDuration } from '../common/duration.ts';
import { ConfigError } from '../common/errors.ts';
import { loadClusterAccess } from '../common/kube/access.ts';
import { createLogger } from '../common/log.ts';
import { limitsFromFlags, listenerLimitFlags } from '../common/net/flags.ts';
import { DEFAULT_HTTP_LIMITS } from '../common/net/guard.ts';
import { createGm } from './app.ts';
import {
  DEFAULT_LEASE_DURATION_MS,
  DEFAULT_RENEW_DEADLINE_MS,
  DEFAULT_RETRY_PERIOD_MS,
  validateTiming,
} from './election/index.ts';
import { healthFlags, healthInitFromFlags } from './health/flags.ts';
import { parseListen } from './http.ts';
import {
  CONNECTION_LEASE_RENEW_MS,
  DEFAULT_HELLO_TIMEOUT_MS,
  DEFAULT_HUB_LIMITS,
  DEFAULT_MAX_FRAME_BYTES,
} from './hub/constants.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsName = (what: string) => (v: string) => {
  if (v.length > 63 || !DNS_LABEL.test(v)) throw new ConfigError(`${what} must be a DNS label`);
  return v;
};

export const gmCommand = command({
  name: 'gm',
  summary: 'run a Global Manager replica (leader election, /readyz for a VIP, LC hub)',
  flags: {
    kubeconfig: { description: 'kubeconfig file (default: in-cluster, then $KUBECONFIG)', value: 'FILE' },
    id: { description: 'identity in the Lease (default: hostname plus a short random suffix)', value: 'ID' },
    'lease-namespace': {
      description: 'namespace of the Lease',
      value: 'NS',
      default: 'sedna',
      parse: dnsName('lease namespace'),
    },
    'lease-name': {
      description: 'name of the Lease',
      value: 'NAME',
      default: 'fedmesh-gm',
      parse: dnsName('lease name'),
    },
    'lease-duration': {
      description: 'how long standbys wait before taking an unrenewed lease',
      value: 'DURATION',
      default: formatDuration(DEFAULT_LEASE_DURATION_MS),
      parse: parseDuration,
    },
    'renew-deadline': {
      description: 'how long the leader retries renewing before it fences itself',
      value: 'DURATION',
      default: formatDuration(DEFAULT_RENEW_DEADLINE_MS),
      parse: parseDuration,
    },
    'retry-period': {
      description: 'interval of renewals and of standby polls',
      value: 'DURATION',
      default: formatDuration(DEFAULT_RETRY_PERIOD_MS),
      parse: parseDuration,
    },
    'http-listen': {
      description: 'health, readiness and metrics endpoint',
      value: 'HOST:PORT',
      default: '0.0.0.0:8080',
      parse: parseListen,
    },
    'ws-listen': {
      description: 'WebSocket endpoint for LCs (the hub)',
      value: 'HOST:PORT',
      default: '0.0.0.0:9000',
      parse: parseListen,
    },
    readyz: {
      description:
        "'leader': 200 only on the leader (for a keepalived VIP); 'replica': 200 whenever this replica can serve LCs",
      value: 'MODE',
      default: 'leader',
      parse: (v) => {
        if (v !== 'leader' && v !== 'replica') throw new ConfigError("expected 'leader' or 'replica'");
        return v;
      },
    },
    'poll-only': {
      description: "don't watch the Lease; acquire only on polls, as client-go does (for comparisons)",
      type: 'boolean',
    },
    'allow-unauthenticated-sedna-lc': {
      description: 'accept Sedna-dialect LCs without credentials, trusting their Node-Name header (stock Sedna LCs)',
      type: 'boolean',
    },
    'lc-namespace': {
      description: 'namespace of the LC ServiceAccounts (default: the lease namespace)',
      value: 'NS',
      parse: dnsName('LC namespace'),
    },
    'lc-service-account': {
      description: "the LC DaemonSet's ServiceAccount; its pod-bound tokens name their node",
      value: 'NAME',
      default: 'lc',
    },
    'max-frame-bytes': {
      description: 'largest frame an LC may send (bytes); larger frames close the connection with 1009',
      value: 'N',
      default: String(DEFAULT_MAX_FRAME_BYTES),
      parse: (v) => {
        const n = Number(v);
        if (!Number.isSafeInteger(n) || n < 1024) throw new ConfigError('expected an integer >= 1024');
        return n;
      },
    },
    ...listenerLimitFlags('', 'LC endpoint (hub)', DEFAULT_HUB_LIMITS),
    'per-source-exempt': {
      description:
        'comma-separated addresses whose hub connections count only toward --max-connections (the mesh sidecar: 127.0.0.1,::1)',
      value: 'ADDR,...',
      parse: (v: string) => {
        const list = v
          .split(',')
          .map((a) => a.trim())
          .filter((a) => a !== '');
        for (const a of list) if (isIP(a) === 0) throw new ConfigError(`${JSON.stringify(a)} is not an IP address`);
        return list;
      },
    },
    'hello-timeout': {
      description: 'time an upgraded fedmesh LC connection has to send its hello',
      value: 'DURATION',
      default: formatDuration(DEFAULT_HELLO_TIMEOUT_MS),
      parse: parseDuration,
    },
    ...listenerLimitFlags('http-', 'HTTP endpoint', DEFAULT_HTTP_LIMITS),
    'lc-lease-renew': {
      description: "renew interval of the per-node connection Leases ('0s' turns them off)",
      value: 'DURATION',
      default: formatDuration(CONNECTION_LEASE_RENEW_MS),
      parse: parseDuration,
    },
    'no-operators': {
      description: 'do not run the Sedna operators when leading (they run by default, on the leader only)',
      type: 'boolean',
    },
    workers: {
      description: 'concurrent reconciles of the operators',
      value: 'N',
      default: '4',
      parse: (v) => {
        const n = Number(v);
        if (!Number.isSafeInteger(n) || n < 1 || n > 256) throw new ConfigError('expected an integer from 1 to 256');
        return n;
      },
    },
    'watch-namespace': {
      description: 'manage Sedna objects in this namespace only (default: all namespaces)',
      value: 'NS',
      parse: dnsName('watch namespace'),
    },
    'fencing-probe-interval': {
      description: 'diagnostic: the leader writes a heartbeat ConfigMap through the fencing guard this often',
      value: 'DURATION',
      parse: parseDuration,
    },
    ...healthFlags,
  },
  details: [
    'Durations take a unit: 2s, 1500ms, 1m. Rule: lease-duration > renew-deadline > 1.2 × retry-period;',
    'the lease duration is whole seconds (the Lease stores leaseDurationSeconds).',
    'SIGTERM stops leader work, releases the lease, closes listeners and exits 0.',
  ].join('\n'),
  async run({ flags: f }) {
    validateTiming(f['lease-duration'], f['renew-deadline'], f['retry-period']);
    const id = f.id ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
    const { access: cluster, source } = loadClusterAccess(f.kubeconfig);
    const log = createLogger({ component: 'gm', node: id });
    log.info({ kubeconfig: source }, 'loaded cluster configuration');
    const shutdown = shutdownSignal(log);
    const gm = await createGm(
      {
        id,
        leaseNamespace: f['lease-namespace'],
        leaseName: f['lease-name'],
        leaseDurationMs: f['lease-duration'],
        renewDeadlineMs: f['renew-deadline'],
        retryPeriodMs: f['retry-period'],
        http: f['http-listen'],
        httpLimits: limitsFromFlags(f, 'http-'),
        readyz: f.readyz,
        pollOnly: f['poll-only'],
        fencingProbeIntervalMs: f['fencing-probe-interval'],
        health: healthInitFromFlags(f, f['lease-namespace']),
        operators: f['no-operators'] ? undefined : { workers: f.workers, namespace: f['watch-namespace'] },
        hub: {
          listen: f['ws-listen'],
          allowUnauthenticatedSedna: f['allow-unauthenticated-sedna-lc'],
          lcNamespace: f['lc-namespace'],
          lcServiceAccount: f['lc-service-account'],
          maxFrameBytes: f['max-frame-bytes'],
          connectionLeaseRenewMs: f['lc-lease-renew'],
          limits: { ...limitsFromFlags(f, ''), perSourceExempt: f['per-source-exempt'] },
          helloTimeoutMs: f['hello-timeout'],
        },
      },
      { cluster, log },
    );
    await gm.start(shutdown);
    return 0;
  },
});
