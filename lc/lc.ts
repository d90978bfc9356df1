/**
 * createLc: wires one Local Controller (store, link, worker API, metrics). The public surface and
 * its types are in index.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../common/errors.ts';
import { recordHistory } from '../common/history.ts';
import { createRegistry, registerProcessMetrics } from '../common/metrics.ts';
import { DEFAULT_HTTP_LIMITS, guardHttpServer } from '../common/net/guard.ts';
import { isWireError, kindOfSedna } from '../common/wire/index.ts';
import {
  COALESCED_KINDS,
  DEFAULT_ROOTFS,
  DEFAULT_TOKEN_FILE,
  MAX_DEAD_LETTERS,
  MAX_OUTBOX_BYTES,
  MAX_OUTBOX_REPORTS,
  MAX_OUTBOX_REPORTS_PER_OBJECT,
  MAX_REPORT_BYTES,
} from './constants.ts';
import { ReportRefusedError } from './errors.ts';
import { createFallback } from './fallback/index.ts';
import { buildLcServer } from './http.ts';
import type { Lc, LcComponents, LcInit, LcReport, LcStatus } from './index.ts';
import { createLink, type LinkObserver } from './link.ts';
import { createManagerHost } from './managers/host.ts';
import { createManagers } from './managers/registry.ts';
import { createPathManager, type GmPathInit, type PathStatus } from './paths/index.ts';
import { checkedReportText, reportFrame, WIDEST_SEQ } from './report-frame.ts';
import { createMemoryStore } from './store/memory.ts';
import { openSqliteStore } from './store/sqlite.ts';
import { type OutboxEntry, type OutboxLimits, storeKey } from './store/types.ts';

const PATH_NAMES = ['direct', 'mesh', 'fallback', 'none'] as const;

const pathStatus = (p: PathStatus) => ({
  path: p.path,
  pathSince: p.since,
  pathSwitches: p.switches,
  pathsDown: p.down,
});

export function createLc(init: LcInit, components: LcComponents): Lc {
  const log = components.log;
  const maxReportBytes = init.maxReportBytes ?? MAX_REPORT_BYTES;
  const limits: OutboxLimits = {
    maxReports: init.maxOutboxReports ?? MAX_OUTBOX_REPORTS,
    maxBytes: init.maxOutboxBytes ?? MAX_OUTBOX_BYTES,
    maxReportsPerObject: init.maxOutboxReportsPerObject ?? MAX_OUTBOX_REPORTS_PER_OBJECT,
  };
  const positive = (v: number) => Number.isSafeInteger(v) && v > 0;
  if (![maxReportBytes, limits.maxReports, limits.maxBytes, limits.maxReportsPerObject].every(positive)) {
    throw new ConfigError('report and outbox limits must be positive integers');
  }
  if (limits.maxBytes < maxReportBytes) {
    throw new ConfigError('the outbox byte limit must hold at least one report of the largest size');
  }
  const storeOpts = { maxDeadLetters: init.maxDeadLetters ?? MAX_DEAD_LETTERS };
  const store =
    components.store ??
    (init.stateDir
      ? openSqliteStore({ path: join(init.stateDir, 'lc.db'), ...storeOpts })
      : createMemoryStore(storeOpts));
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
  const dials = registry.counter('fedmesh_lc_link_dials_total', 'GM dial attempts.');
  const deadLettered = registry.counter(
    'fedmesh_lc_reports_dead_lettered_total',
    'Reports set aside for good, by reason (nack, invalid, closed).',
  );
  const refused = registry.counter(
    'fedmesh_lc_reports_refused_total',
    'Reports refused before entering the outbox, by code (worker API 400, 413, 429, 507).',
  );
  const managers = createManagers(
    {
      node: init.node,
      rootfs: init.rootfs ?? DEFAULT_ROOTFS,
      stateDir: init.stateDir,
      log,
      report: (r) => void report(r),
      get: (kind, namespace, name) => store.getObject(kindOfSedna(kind), namespace, name),
    },
    { datasetPeriodMs: init.datasetPeriodMs, credentialsDir: init.credentialsDir },
    components.managers,
  );
  const host = createManagerHost({ node: init.node, store, log, managers });
  const observer: LinkObserver = {
    ...components.observer,
    dialing(endpoint) {
      dials.inc();
      components.observer?.dialing?.(endpoint);
    },
    deadLettered(letter) {
      deadLettered.inc(1, { reason: letter.cause });
      components.observer?.deadLettered?.(letter);
    },
    acked(seq) {
      acked.inc();
      components.observer?.acked?.(seq);
    },
    applied(ops, seq) {
      applied.inc(ops.length);
      host.applied(ops);
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
      lcVersion: init.lcVersion ?? 'fedmesh-lc/0.1.0',
      token,
      maxReportBytes,
      heartbeatIntervalMs: init.heartbeatIntervalMs,
      heartbeatTimeoutMs: init.heartbeatTimeoutMs,
    },
    { store, log, dial: components.dial, observer },
  );
  const fallback =
    components.fallback ??
    (init.fallback
      ? createFallback(
          { ...init.fallback, node: init.node },
          // Through the observer: the managers, the applied counter and test hooks see its changes too (seq 0).
          { store, log, registry, applied: (ops) => observer.applied?.(ops, 0) },
        )
      : undefined);
  const pathActive = registry.gauge(
    'fedmesh_lc_path_active',
    '1 for the path serving this LC now (direct, mesh, fallback, none).',
  );
  const pathSwitches = registry.counter('fedmesh_lc_path_switches_total', 'Moves from one working path to another.');
  for (const p of PATH_NAMES) pathActive.set(p === 'none' ? 1 : 0, { path: p });
  const gmPaths: GmPathInit[] = [
    { name: 'direct' as const, urls: init.endpoints },
    { name: 'mesh' as const, urls: init.meshEndpoints ?? [] },
  ].filter((p) => p.urls.length > 0);
  if (gmPaths.length === 0 && !fallback)
    throw new ConfigError('no path to the cloud: give GM URLs, mesh URLs or a fallback');
  const paths = createPathManager(
    {
      paths: gmPaths,
      probePeriodMs: init.probePeriodMs,
      backoffMinMs: init.backoffMinMs,
      backoffMaxMs: init.backoffMaxMs,
    },
    {
      link,
      fallback,
      log,
      changed(from, to) {
        pathActive.set(0, { path: from });
        pathActive.set(1, { path: to });
      },
      switched: (from, to) => pathSwitches.inc(1, { from, to }),
    },
  );
  registry.gauge('fedmesh_lc_gm_connected', '1 while a GM replica serves this LC.', () =>
    link.status().connected ? 1 : 0,
  );
  registry.gauge('fedmesh_lc_outbox_reports', 'Reports waiting for an ack.', () => store.outboxSize());
  registry.gauge('fedmesh_lc_outbox_bytes', 'Status JSON bytes waiting for an ack.', () => store.outboxBytes());
  registry.gauge('fedmesh_lc_dead_letter_reports', 'Dead letters kept.', () => store.deadLetterCount());

  function report(r: LcReport): OutboxEntry {
    const next = { ...r, reportedAt: r.reportedAt ?? new Date().toISOString() };
    try {
      check(next);
      const coalesce = COALESCED_KINDS.has(r.kind);
      const entry = store.enqueue({ ...next, coalesce }, limits);
      recordHistory('report.accepted', {
        instance: store.instance,
        seq: entry.seq,
        key: storeKey(r.kind, r.namespace, r.name),
        coalesce,
      });
      link.kick();
      fallback?.kick?.();
      return entry;
    } catch (err) {
      if (err instanceof ReportRefusedError) refused.inc(1, { code: err.code });
      throw err;
    }
  }

  // The frame this report will become, through the GM's own decoder: refused now rather than never delivered.
  function check(r: Required<LcReport>) {
    const object = `${r.kind} ${r.namespace}/${r.name}`;
    try {
      checkedReportText(reportFrame(store.instance, { ...r, seq: WIDEST_SEQ }), maxReportBytes);
    } catch (err) {
      if (!isWireError(err)) throw err;
      if (err.code === 'ERR_FRAME_TOO_LARGE') {
        const msg = `the report of ${object} exceeds ${maxReportBytes} bytes, the most the GM accepts`;
        throw new ReportRefusedError('ERR_REPORT_TOO_LARGE', msg, { cause: err });
      }
      throw new ReportRefusedError('ERR_REPORT_INVALID', `the report of ${object} is not valid: ${err.message}`, {
        cause: err,
      });
    }
  }

  function status(): LcStatus {
    return {
      ...link.status(),
      ...pathStatus(paths.status()),
      fallback: fallback?.status?.(),
      outboxReports: store.outboxSize(),
      outboxBytes: store.outboxBytes(),
      deadLetters: store.deadLetterCount(),
    };
  }

  let address: string | undefined;
  const app = init.http
    ? buildLcServer(
        {
          readyz: [{ name: 'store', failure: () => undefined }],
          livez: [{ name: 'ping', failure: () => undefined }],
          bodyLimit: maxReportBytes,
        },
        {
          registry,
          log,
          enqueue: (r) => report(r),
          route: (m) => host.workerMessage(m),
          status: () => status(),
          deadLetters: (limit) => ({ items: store.deadLetters(limit), total: store.deadLetterCount() }),
          objects: () =>
            store.listObjects().map((o) => {
              const meta = o.object.metadata as { resourceVersion?: string } | undefined;
              return { kind: o.kind, namespace: o.namespace, name: o.name, resourceVersion: meta?.resourceVersion };
            }),
        },
      )
    : undefined;
  if (app) guardHttpServer(app.server, 'http', init.httpLimits ?? DEFAULT_HTTP_LIMITS, { registry, log });

  return {
    store,
    report,
    status,
    httpAddress: () => address,
    async start(signal) {
      if (app && init.http) {
        address = await app.listen({ host: init.http.host, port: init.http.port });
        log.info(
          {
            address,
            node: init.node,
            endpoints: init.endpoints,
            mesh: init.meshEndpoints,
            fallback: fallback !== undefined,
          },
          'lc started',
        );
      }
      // Managers first: they get every stored object before the link applies anything new.
      const stopManagers = new AbortController();
      const managing = host.start(AbortSignal.any([signal, stopManagers.signal]));
      try {
        await paths.start(signal);
      } finally {
        stopManagers.abort();
        await managing;
        await app?.close();
        store.close();
        log.info('lc stopped');
      }
    },
  };
}
