/**
 * createFallback: one reflector per Sedna kind and the status writer, run while no GM path is up.
 * The public surface and its options are in index.ts.
 */
import { sleep } from '../../common/async.ts';
import { ConfigError } from '../../common/errors.ts';
import { createRegistry } from '../../common/metrics.ts';
import { KINDS, type Kind } from '../../common/wire/index.ts';
import { createEdgeApiClient } from './client.ts';
import {
  AUTH_RETRY_MS,
  DEFAULT_EDGE_API,
  FALLBACK_BACKOFF_MAX_MS,
  FALLBACK_BACKOFF_MIN_MS,
  REQUEST_TIMEOUT_MS,
  WATCH_IDLE_MS,
  WATCH_MIN_MS,
  WATCH_TIMEOUT_MAX_S,
  WATCH_TIMEOUT_MIN_S,
  WRITE_RETRY_MS,
} from './constants.ts';
import { FallbackError } from './errors.ts';
import type { Fallback, FallbackComponents, FallbackInit, FallbackStatus } from './index.ts';
import { createReflector, type Reflector } from './reflector.ts';
import { createStatusWriter } from './upstream.ts';

export function createFallback(init: FallbackInit, components: FallbackComponents): Fallback {
  const { store } = components;
  const log = components.log.child({ component: 'lc.fallback' });
  const random = components.random ?? Math.random;
  const writes = init.writes ?? 'auto';
  if (!['auto', 'on', 'off'].includes(writes))
    throw new ConfigError(`--edge-api-writes: "${writes}" is not auto, on or off`);
  const watchTimeoutMinS = init.watchTimeoutMinS ?? WATCH_TIMEOUT_MIN_S;
  const watchTimeoutMaxS = init.watchTimeoutMaxS ?? WATCH_TIMEOUT_MAX_S;
  const watchIdleMs = init.watchIdleMs ?? WATCH_IDLE_MS;
  const backoffMinMs = init.backoffMinMs ?? FALLBACK_BACKOFF_MIN_MS;
  const backoffMaxMs = init.backoffMaxMs ?? FALLBACK_BACKOFF_MAX_MS;
  const requestTimeoutMs = init.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const positive = [watchTimeoutMinS, watchIdleMs, backoffMinMs, requestTimeoutMs].every((v) => v > 0);
  if (!positive || watchTimeoutMaxS < watchTimeoutMinS || backoffMaxMs < backoffMinMs) {
    throw new ConfigError('edge api timings must be positive, and each maximum at least its minimum');
  }

  const registry = components.registry ?? createRegistry();
  const m = {
    received: registry.counter(
      'fedmesh_lc_fallback_objects_received_total',
      'Objects received from the edge API, by kind.',
    ),
    bytes: registry.counter('fedmesh_lc_fallback_bytes_received_total', 'Bytes received from the edge API.'),
    filtered: registry.counter(
      'fedmesh_lc_fallback_objects_filtered_total',
      'Objects the edge API sent that are not labelled for this node (it ignores the label selector), dropped here.',
    ),
    lists: registry.counter('fedmesh_lc_fallback_lists_total', 'Full lists through the edge API, by kind.'),
    restarts: registry.counter(
      'fedmesh_lc_fallback_watch_restarts_total',
      'Watches started again, by reason (gone: 410, relisted; idle: nothing received in time, relisted; ended).',
    ),
    errors: registry.counter('fedmesh_lc_fallback_errors_total', 'Edge API failures, by code.'),
    written: registry.counter(
      'fedmesh_lc_fallback_reports_written_total',
      'Outbox reports written as status through the edge API.',
    ),
  };
  const client = createEdgeApiClient(
    { url: init.url ?? DEFAULT_EDGE_API, tokenFile: init.tokenFile, caFile: init.caFile, insecure: init.insecure },
    {
      log,
      received(n) {
        counts.bytes += n;
        m.bytes.inc(n);
      },
    },
  );
  const counts = { objects: 0, bytes: 0, filtered: 0, lists: 0, gone: 0, idle: 0, written: 0 };
  let running = false;
  let selectorIgnored = false;
  let lastError: FallbackStatus['lastError'];
  const synced = new Set<Kind>();
  let wake: (() => void) | undefined;

  const writer = createStatusWriter(
    { node: init.node, writes, requestTimeoutMs },
    {
      client,
      store,
      log,
      written() {
        counts.written++;
        m.written.inc();
      },
      deadLettered(e, reason) {
        log.warn({ seq: e.seq, kind: e.kind, namespace: e.namespace, name: e.name, reason }, 'report dead-lettered');
      },
    },
  );
  registry.gauge('fedmesh_lc_fallback_running', '1 while the LC lists and watches through the edge API.', () =>
    running ? 1 : 0,
  );

  const reflectors = KINDS.map((kind) =>
    createReflector(
      {
        kind,
        node: init.node,
        namespace: init.namespace,
        watchTimeoutMinS,
        watchTimeoutMaxS,
        watchIdleMs,
        requestTimeoutMs,
      },
      {
        client,
        store,
        log,
        random,
        received(k) {
          counts.objects++;
          m.received.inc(1, { kind: k });
        },
        filtered(k) {
          counts.filtered++;
          m.filtered.inc(1, { kind: k });
          if (!selectorIgnored) {
            selectorIgnored = true;
            log.warn({ endpoint: client.url, kind: k }, 'edge api ignores the label selector; filtering on the node');
          }
        },
        applied: (ops) => components.applied?.(ops),
      },
    ),
  );

  function failed(err: unknown, what: Record<string, unknown>) {
    const code = err instanceof FallbackError ? err.code : 'ERR_UNKNOWN';
    lastError = { code, message: (err as Error).message };
    m.errors.inc(1, { code });
    log.warn({ err, ...what }, 'edge api request failed');
    return code;
  }

  async function reflect(r: Reflector, signal: AbortSignal) {
    let needList = true;
    let delay = backoffMinMs;
    const wait = async (ms: number) => {
      await sleep(ms * (1 + random() * 0.2), signal);
      delay = Math.min(backoffMaxMs, delay * 2);
    };
    while (!signal.aborted) {
      let started = performance.now();
      try {
        if (needList) {
          await r.list(signal);
          needList = false;
          counts.lists++;
          m.lists.inc(1, { kind: r.kind });
          if (!synced.has(r.kind)) {
            synced.add(r.kind);
            if (synced.size === KINDS.length) log.info({ endpoint: client.url }, 'edge api fallback synced');
          }
        }
        lastError = undefined;
        started = performance.now();
        const ended = await r.watch(signal);
        if (ended === 'gone') {
          needList = true;
          counts.gone++;
          m.restarts.inc(1, { reason: 'gone' });
          log.info({ kind: r.kind, resourceVersion: r.version() }, 'edge api watch version expired, listing again');
        } else m.restarts.inc(1, { reason: 'ended' });
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof FallbackError && err.code === 'ERR_EDGE_API_GONE') {
          needList = true;
          counts.gone++;
          m.restarts.inc(1, { reason: 'gone' });
        } else if (err instanceof FallbackError && err.code === 'ERR_EDGE_API_IDLE') {
          // Relisted, not re-watched: a metaServer re-sends every object at each watch anyway (it
          // ignores the version) and never tells a watcher that an object left its selector.
          needList = true;
          counts.idle++;
          m.restarts.inc(1, { reason: 'idle' });
          log.info({ kind: r.kind }, 'edge api watch idle, listing again');
        } else {
          const code = failed(err, { kind: r.kind });
          await wait(code === 'ERR_EDGE_API_AUTH' ? Math.max(AUTH_RETRY_MS, delay) : delay);
          continue;
        }
      }
      // A watch that ends (or is refused with 410) at once, again and again, must not become a
      // request loop: such restarts back off; a watch that lasted resets the backoff.
      if (performance.now() - started < WATCH_MIN_MS) await wait(delay);
      else delay = backoffMinMs;
    }
  }

  async function upstream(signal: AbortSignal) {
    while (!signal.aborted) {
      let result: Awaited<ReturnType<typeof writer.pass>>;
      try {
        result = await writer.pass(signal);
      } catch (err) {
        if (signal.aborted) break;
        failed(err, { part: 'status writes' });
        result = 'blocked';
      }
      if (result === 'progress') continue;
      if (result === 'disabled') return;
      // Idle: until a kick; blocked or waiting for a GM: retry now and then (objects may arrive).
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, WRITE_RETRY_MS);
        function done() {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          wake = undefined;
          resolve();
        }
        wake = result === 'idle' ? done : undefined;
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  return {
    async run(signal) {
      if (running) throw new ConfigError('the fallback is already running');
      running = true;
      synced.clear();
      writer.reset();
      log.info({ endpoint: client.url, node: init.node, writes }, 'edge api fallback started');
      try {
        await Promise.all([...reflectors.map((r) => reflect(r, signal)), upstream(signal)]);
      } finally {
        running = false;
        client.close(); // its idle keep-alive connections; the next run opens new ones
        log.info('edge api fallback stopped');
      }
    },
    status: () => ({
      running,
      syncedKinds: KINDS.filter((k) => synced.has(k)),
      synced: synced.size === KINDS.length,
      objectsReceived: counts.objects,
      bytesReceived: counts.bytes,
      objectsFilteredOut: counts.filtered,
      selectorIgnored,
      lists: counts.lists,
      gone: counts.gone,
      idleRestarts: counts.idle,
      writes: writer.state(),
      reportsWritten: counts.written,
      reportsWaitingForGm: writer.waiting(),
      ...(lastError ? { lastError } : {}),
    }),
    kick() {
      wake?.();
    },
  };
}
