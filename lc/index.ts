/**
 * lc: the Local Controller of one edge node. See README.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../common/log.ts';
import { createRegistry, registerProcessMetrics } from '../common/metrics.ts';
import type { Kind } from '../common/wire/index.ts';
import { COALESCED_KINDS, DEFAULT_TOKEN_FILE } from './constants.ts';
import { buildLcServer } from './http.ts';
import { createLink, type Dialer, type LinkObserver, type LinkStatus } from './link.ts';
import { createMemoryStore } from './store/memory.ts';
import { openSqliteStore } from './store/sqlite.ts';
import type { LcStore, OutboxEntry } from './store/types.ts';

export type { Dialer, LinkObserver, LinkStatus } from './link.ts';
export type { LcStore, OutboxEntry, StoredObject } from './store/types.ts';

export interface LcInit {
  /** This node's name (Sedna's NODENAME). */
  node: string;
  /** GM endpoints, ws:// URLs (VIP, Service, replicas), tried in turn. */
  endpoints: string[];
  /** Directory of the SQLite store; undefined keeps state in memory (tests, benchmarks). */
  stateDir?: string;
  /** Worker API listen address; undefined: no HTTP server. Default in the CLI: 0.0.0.0:9100. */
  http?: { host: string; port: number };
  /** File with the bearer token (re-read on every dial); missing file: no credentials. Default DEFAULT_TOKEN_FILE. */
  tokenFile?: string;
  /** Dial backoff bounds (ms). Defaults 250 / 15 000. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Version string sent in hello. */
  lcVersion?: string;
}

export interface LcComponents {
  log: Logger;
  /** Overrides the store (tests); else SQLite in `stateDir` or memory. */
  store?: LcStore;
  dial?: Dialer;
  observer?: LinkObserver;
  /** Bearer token source overriding `tokenFile` (in-process LCs). */
  token?: () => string | undefined;
}

/** A status report from this node (the worker API, or the LC's own monitors). */
export interface LcReport {
  kind: Kind;
  namespace: string;
  name: string;
  status: Record<string, unknown>;
  /** Default now. */
  reportedAt?: string;
}

export interface Lc {
  /** Runs the link and the HTTP server until `signal` aborts, then closes the store. */
  start(signal: AbortSignal): Promise<void>;
  /** Durably enqueues a report (coalesced for kinds where only the latest status matters) and sends it when possible. */
  report(r: LcReport): OutboxEntry;
  readonly store: LcStore;
  status(): LinkStatus;
  /** Bound HTTP address once listening. */
  httpAddress(): string | undefined;
}

export function createLc(init: LcInit, components: LcComponents): Lc {
  const log = components.log;
  const store =
    components.store ?? (init.stateDir ? openSqliteStore({ path: join(init.stateDir, 'lc.db') }) : createMemoryStore());
  const tokenFile = init.tokenFile ?? DEFAULT_TOKEN_FILE;
  let warnedNoToken = false;
  const token =
    components.token ??
    (() => {
      try {
        return readFileSync(tokenFile, 'utf8').trim() || undefined;
      } catch (err) {
        if (!warnedNoToken) log.warn({ err, tokenFile }, 'no token file, dialling without credentials');
        warnedNoToken = true;
        return undefined;
      }
    });
  const registry = createRegistry();
  registerProcessMetrics(registry);
  const acked = registry.counter('fedmesh_lc_reports_acked_total', 'Reports the GM acknowledged.');
  const applied = registry.counter('fedmesh_lc_downstream_ops_total', 'Downstream changes applied to the store.');
  const closes = registry.counter('fedmesh_lc_link_closes_total', 'GM connections ended, by code.');
  const observer: LinkObserver = {
    ...components.observer,
    acked(seq) {
      acked.inc();
      components.observer?.acked?.(seq);
    },
    applied(ops, seq) {
      applied.inc(ops.length);
      components.observer?.applied?.(ops, seq);
    },
    closed(code, reason, welcomed) {
      closes.inc(1, { code: String(code) });
      components.observer?.closed?.(code, reason, welcomed);
    },
  };
  const link = createLink(
    {
      node: init.node,
      endpoints: init.endpoints,
      lcVersion: init.lcVersion ?? 'fedmesh-lc/0.1.0',
      token,
      backoffMinMs: init.backoffMinMs,
      backoffMaxMs: init.backoffMaxMs,
    },
    { store, log, dial: components.dial, observer },
  );
  registry.gauge('fedmesh_lc_gm_connected', '1 while a GM replica serves this LC.', () =>
    link.status().connected ? 1 : 0,
  );
  registry.gauge('fedmesh_lc_outbox_reports', 'Reports waiting for an ack.', () => store.outboxSize());

  function report(r: LcReport): OutboxEntry {
    const entry = store.enqueue({
      kind: r.kind,
      namespace: r.namespace,
      name: r.name,
      status: r.status,
      reportedAt: r.reportedAt ?? new Date().toISOString(),
      coalesce: COALESCED_KINDS.has(r.kind),
    });
    link.kick();
    return entry;
  }

  let address: string | undefined;
  const app = init.http
    ? buildLcServer(
        {
          readyz: [{ name: 'store', failure: () => undefined }],
          livez: [{ name: 'ping', failure: () => undefined }],
        },
        {
          registry,
          log,
          enqueue: (r) => report(r),
          objects: () =>
            store.listObjects().map((o) => {
              const meta = o.object.metadata as { resourceVersion?: string } | undefined;
              return { kind: o.kind, namespace: o.namespace, name: o.name, resourceVersion: meta?.resourceVersion };
            }),
        },
      )
    : undefined;

  return {
    store,
    report,
    status: () => link.status(),
    httpAddress: () => address,
    async start(signal) {
      if (app && init.http) {
        address = await app.listen({ host: init.http.host, port: init.http.port });
        log.info({ address, node: init.node, endpoints: init.endpoints }, 'lc started');
      }
      try {
        await link.start(signal);
      } finally {
        await app?.close();
        store.close();
        log.info('lc stopped');
      }
    },
  };
}
