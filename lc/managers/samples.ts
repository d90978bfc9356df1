/**
 * The samples of a Dataset as Sedna's LC reads them for incremental and lifelong learning
 * (managers/dataset `readByLine`): the index file at `spec.url` under the root-fs mount, one sample
 * per line (`txt`), or per line after the header line (`csv`). Read again only when its size or
 * mtime changed. The dataset manager only counts lines (dataset-source.ts); these managers need the
 * lines themselves, to write each round's sample files.
 *
 * Local paths only: an s3:// dataset gives undefined (the job waits), as does a missing file.
 */
import { readFileSync, statSync } from 'node:fs';
import { posix } from 'node:path';

export interface DatasetSamples {
  samples: string[];
  /** The csv header line (not a sample). */
  header?: string;
}

export type SampleReader = (dataset: Record<string, unknown>) => DatasetSamples | undefined;

/** Lines as Go's bufio.Scanner yields them: no trailing empty line, `\r` before `\n` dropped. */
export function lines(text: string): string[] {
  if (text === '') return [];
  const out = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (text.endsWith('\n')) out.pop();
  return out;
}

/** A reader of datasets' index files under `rootfs`, caching each file by size and mtime. */
export function localSampleReader(rootfs: string): SampleReader {
  const cache = new Map<string, { size: number; mtimeMs: number; value: DatasetSamples | undefined }>();
  return (dataset) => {
    const spec = (dataset.spec ?? {}) as { url?: unknown; format?: unknown };
    const url = typeof spec.url === 'string' ? spec.url : '';
    if (!url.startsWith('/')) return undefined;
    // Resolved against the node's `/` first, so `..` cannot climb out of the mount.
    const file = posix.join(rootfs, posix.resolve('/', url));
    let st: { size: number; mtimeMs: number };
    try {
      st = statSync(file);
    } catch {
      cache.delete(file);
      return undefined;
    }
    const hit = cache.get(file);
    if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.value;
    let value: DatasetSamples | undefined;
    try {
      const all = lines(readFileSync(file, 'utf8'));
      const format = String(spec.format ?? 'txt').toLowerCase();
      if (format === 'csv') value = all.length ? { header: all[0], samples: all.slice(1) } : undefined;
      else if (format === 'txt') value = { samples: all };
    } catch {
      value = undefined;
    }
    cache.set(file, { size: st.size, mtimeMs: st.mtimeMs, value });
    return value;
  };
}
