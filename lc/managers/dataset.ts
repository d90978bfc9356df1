/**
 * Sedna's dataset manager: for each Dataset of this node, count the samples of its index file and
 * report `{"numberOfSamples": N}` when the count changes. The file is read every period (Sedna's
 * 60 s) and, for a local file, shortly after fs.watch sees its directory change, so a new sample
 * shows within a second. Worker messages are refused (Sedna's dataset manager ignores them).
 */
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { DATASET_PERIOD_MS, DATASET_WATCH_DEBOUNCE_MS } from '../constants.ts';
import { ReportRefusedError } from '../errors.ts';
import type { StoredObject } from '../store/types.ts';
import { type Format, parseFormat, readLines, type Source, samplesOf, sourceOf } from './dataset-source.ts';
import type { ManagersInit } from './registry.ts';
import { SourceError } from './s3.ts';
import type { Manager, ManagerContext } from './types.ts';

const DatasetSchema = Type.Object({
  spec: Type.Object({
    url: Type.String({ maxLength: 4096 }),
    format: Type.String({ maxLength: 16 }),
    nodeName: Type.Optional(Type.String()),
    credentialName: Type.Optional(Type.String({ maxLength: 253 })),
  }),
  status: Type.Optional(Type.Object({ numberOfSamples: Type.Optional(Type.Integer()) })),
});
const validDataset = Compile(DatasetSchema);

interface Monitor {
  /** The spec this monitor reads (a changed spec restarts it). */
  spec: string;
  ac: AbortController;
  /** The count last reported (or the object's status when it arrived): report only a change. */
  reported?: number;
}

export function createDatasetManager(ctx: ManagerContext, init: ManagersInit): Manager {
  const periodMs = init.datasetPeriodMs ?? DATASET_PERIOD_MS;
  const log = ctx.log.child({ component: 'lc.dataset' });
  const monitors = new Map<string, Monitor>();
  let root: AbortSignal | undefined;
  const waiting = new Map<string, StoredObject>(); // inserted before start

  function stop(key: string) {
    monitors.get(key)?.ac.abort();
    monitors.delete(key);
  }

  function begin(obj: StoredObject) {
    const key = `${obj.namespace}/${obj.name}`;
    const at = { namespace: obj.namespace, name: obj.name };
    if (!validDataset.Check(obj.object)) {
      log.warn(at, 'dataset spec not understood, not monitored');
      return stop(key);
    }
    const { spec, status } = obj.object;
    // Another node's dataset (sent for a job that reads it): that node's LC counts it.
    if (spec.nodeName !== ctx.node) return stop(key);
    const specText = JSON.stringify([spec.url, spec.format, spec.credentialName]);
    const prev = monitors.get(key);
    if (prev?.spec === specText) return;
    prev?.ac.abort();
    const format = parseFormat(spec.format);
    let source: Source | undefined;
    try {
      source = sourceOf(spec.url, ctx.rootfs, spec.credentialName);
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      log.warn({ ...at, err }, 'dataset url not usable, not monitored');
    }
    if (!format) log.warn({ ...at, format: spec.format.slice(0, 16) }, 'dataset format not txt or csv, not monitored');
    if (!format || !source || !root) {
      monitors.delete(key);
      return;
    }
    const m: Monitor = {
      spec: specText,
      ac: new AbortController(),
      reported: prev ? prev.reported : status?.numberOfSamples,
    };
    monitors.set(key, m);
    const signal = AbortSignal.any([root, m.ac.signal]);
    void monitor(at, source, format, m, signal);
  }

  async function monitor(
    at: { namespace: string; name: string },
    source: Source,
    format: Format,
    m: Monitor,
    signal: AbortSignal,
  ) {
    let running = false;
    let again = false;
    let lastError: string | undefined;
    async function check() {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        do {
          again = false;
          await checkOnce();
        } while (again && !signal.aborted);
      } finally {
        running = false;
      }
    }
    async function checkOnce() {
      let n: number;
      try {
        const lines = await readLines(source, { namespace: at.namespace, credentialsDir: init.credentialsDir, signal });
        n = samplesOf(lines, format);
      } catch (err) {
        if (signal.aborted) return;
        if (!(err instanceof SourceError)) throw err;
        // Said once per distinct failure, not every period.
        if (err.message !== lastError) log.warn({ ...at, err }, 'dataset index not readable');
        lastError = err.message;
        return;
      }
      lastError = undefined;
      if (n === m.reported || signal.aborted) return;
      try {
        ctx.report({ kind: 'Dataset', namespace: at.namespace, name: at.name, status: { numberOfSamples: n } });
        m.reported = n;
        log.info({ ...at, numberOfSamples: n }, 'dataset samples changed');
      } catch (err) {
        // Outbox full or similar: not marked reported, so the next check tries again.
        if (!(err instanceof ReportRefusedError)) throw err;
        log.warn({ ...at, err }, 'dataset report refused');
      }
    }

    let watcher: FSWatcher | undefined;
    let debounce: NodeJS.Timeout | undefined;
    const arm = () => {
      if (watcher || !('local' in source)) return;
      const file = basename(source.local);
      try {
        // The directory, not the file: an index replaced by rename keeps being seen.
        watcher = watch(dirname(source.local), { signal }, (_event, name) => {
          if (name !== null && name !== file) return;
          clearTimeout(debounce);
          debounce = setTimeout(() => void check(), DATASET_WATCH_DEBOUNCE_MS);
        });
        watcher.on('error', (err) => {
          log.warn({ ...at, err }, 'dataset watch failed, period only until re-armed');
          watcher?.close();
          watcher = undefined;
        });
      } catch (err) {
        // No such directory yet: the period re-arms the watch.
        if (lastError === undefined) log.debug({ ...at, err }, 'dataset directory not watchable');
      }
    };
    const tick = () => {
      arm();
      void check();
    };
    const timer = setInterval(tick, periodMs);
    tick();
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    clearInterval(timer);
    clearTimeout(debounce);
    watcher?.close();
  }

  return {
    kind: 'dataset',
    async start(signal) {
      root = signal;
      for (const obj of waiting.values()) begin(obj);
      waiting.clear();
      if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      for (const key of [...monitors.keys()]) stop(key);
    },
    insert(obj) {
      if (root) begin(obj);
      else waiting.set(`${obj.namespace}/${obj.name}`, obj);
    },
    delete(namespace, name) {
      waiting.delete(`${namespace}/${name}`);
      stop(`${namespace}/${name}`);
    },
    workerMessage: () => ({ refuse: { status: 400, message: 'Dataset takes no worker messages' } }),
  };
}
