/**
 * The example manifests in this folder (Sedna objects, not CRDs: they live outside crds/ so that
 * `kubectl apply -R -f crds/` installs only the CRDs), for tests and for anyone who wants samples.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAllYaml } from '@kubernetes/client-node';

export interface Example {
  /** File name inside examples/. */
  file: string;
  /** `Kind/name`, for test names. */
  id: string;
  /** The object as plain JSON (what a client sends). */
  object: { apiVersion: string; kind: string; metadata: { name: string }; spec: Record<string, unknown> };
}

/** Every document of every `*.yaml` file, files in name order, documents in file order. */
export function loadExamples(dir: string = import.meta.dirname): Example[] {
  const out: Example[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    // client-node turns metadata times into Dates; the JSON round trip makes them wire strings again.
    const docs = JSON.parse(JSON.stringify(loadAllYaml(readFileSync(join(dir, file), 'utf8')))) as Example['object'][];
    for (const object of docs) out.push({ file, id: `${object.kind}/${object.metadata.name}`, object });
  }
  return out;
}

/** A fresh copy of the example object `Kind/name`; throws if there is none. */
export function exampleObject(id: string): Record<string, unknown> {
  const e = loadExamples().find((x) => x.id === id);
  if (!e) throw new Error(`no example ${id}`);
  return structuredClone(e.object);
}
