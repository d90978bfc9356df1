/**
 * A minimal Prometheus registry (text exposition format 0.0.4): gauges, counters and histograms
 * with optional labels. Enough for fedmesh's few metrics without another dependency.
 */

import { monitorEventLoopDelay } from 'node:perf_hooks';

type Labels = Record<string, string>;

// Hot paths pass one constant labels object per series (a counter bumped per frame): its key is
// computed once.
const keys = new WeakMap<Labels, string>();

function key(labels: Labels | undefined): string {
  if (!labels) return '';
  const cached = keys.get(labels);
  if (cached !== undefined) return cached;
  const k = computeKey(labels);
  if (Object.isFrozen(labels)) keys.set(labels, k);
  return k;
}

function computeKey(labels: Labels): string {
  const parts = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

interface Metric {
  render(): string[];
}

export interface Gauge {
  set(v: number, labels?: Labels): void;
  /** Drops the series (a per-node series ends with its node, or series would grow without bound). */
  remove(labels: Labels): void;
}
export interface Counter {
  inc(by?: number, labels?: Labels): void;
}
export interface Histogram {
  observe(v: number, labels?: Labels): void;
}

export interface Registry {
  gauge(name: string, help: string, collect?: () => number | undefined): Gauge;
  counter(name: string, help: string): Counter;
  histogram(name: string, help: string, buckets: number[]): Histogram;
  /** The whole registry in Prometheus text format. */
  render(): string;
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function createRegistry(): Registry {
  const metrics: Metric[] = [];
  const header = (name: string, help: string, type: string) => [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  return {
    gauge(name, help, collect) {
      const values = new Map<string, number>();
      metrics.push({
        render: () => {
          const v = collect?.();
          if (v !== undefined) values.set('', v);
          return [...header(name, help, 'gauge'), ...[...values].map(([k, x]) => `${name}${k} ${num(x)}`)];
        },
      });
      return { set: (v, labels) => values.set(key(labels), v), remove: (labels) => values.delete(key(labels)) };
    },
    counter(name, help) {
      const values = new Map<string, number>([['', 0]]);
      metrics.push({
        render: () => [...header(name, help, 'counter'), ...[...values].map(([k, x]) => `${name}${k} ${num(x)}`)],
      });
      return {
        inc: (by = 1, labels) => {
          const k = key(labels);
          values.set(k, (values.get(k) ?? 0) + by);
        },
      };
    },
    histogram(name, help, buckets) {
      const sorted = [...buckets].sort((a, b) => a - b);
      const series = new Map<string, { counts: number[]; sum: number; count: number; labels: Labels }>();
      metrics.push({
        render: () => {
          const out = header(name, help, 'histogram');
          const all = series.size
            ? series
            : new Map([['', { counts: sorted.map(() => 0), sum: 0, count: 0, labels: {} }]]);
          for (const s of all.values()) {
            sorted.forEach((b, i) => {
              out.push(`${name}_bucket${key({ ...s.labels, le: num(b) })} ${s.counts[i]}`);
            });
            out.push(`${name}_bucket${key({ ...s.labels, le: '+Inf' })} ${s.count}`);
            out.push(`${name}_sum${key(s.labels)} ${s.sum}`, `${name}_count${key(s.labels)} ${s.count}`);
          }
          return out;
        },
      });
      return {
        observe(v, labels = {}) {
          const k = key(labels);
          let s = series.get(k);
          if (!s) {
            s = { counts: sorted.map(() => 0), sum: 0, count: 0, labels };
            series.set(k, s);
          }
          sorted.forEach((b, i) => {
            if (v <= b) s.counts[i] = (s.counts[i] ?? 0) + 1;
          });
          s.sum += v;
          s.count++;
        },
      };
    },
    render: () => `${metrics.flatMap((m) => m.render()).join('\n')}\n`,
  };
}

/** The process's own figures (names as Prometheus client libraries use them), read at scrape time. */
export function registerProcessMetrics(registry: Registry): void {
  registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => process.memoryUsage.rss());
  registry.gauge('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  });
  registry.gauge('nodejs_heap_size_used_bytes', 'V8 heap in use in bytes.', () => process.memoryUsage().heapUsed);
  registry.gauge('nodejs_heap_size_total_bytes', 'V8 heap reserved in bytes.', () => process.memoryUsage().heapTotal);
  registry.gauge(
    'nodejs_external_memory_bytes',
    'Memory of C++ objects bound to JavaScript objects (Buffers, sockets) in bytes.',
    () => process.memoryUsage().external,
  );
  // Event-loop delay sampled every 20 ms (perf_hooks' histogram, negligible cost); the window is
  // the time since the previous scrape, so a soak sees lag drift rather than one lifetime figure.
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  registry.gauge(
    'nodejs_eventloop_lag_p99_seconds',
    'Event-loop delay p99 since the previous scrape, in seconds.',
    () => (lag.count ? lag.percentile(99) / 1e9 : 0),
  );
  registry.gauge(
    'nodejs_eventloop_lag_max_seconds',
    'Event-loop delay max since the previous scrape, in seconds.',
    () => {
      const max = lag.count ? lag.max / 1e9 : 0;
      lag.reset(); // last of the two: the p99 above was read from the same window
      return max;
    },
  );
}
