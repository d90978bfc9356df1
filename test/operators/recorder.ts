/**
 * Observes, from the API server's side, every write to the objects the operators create and every
 * change of the Lease holder, with their resourceVersions (etcd revisions: one total order), so a
 * test can prove that no write stamped by a replica landed after that replica lost the lease.
 */

import type { KubeConfig } from '@kubernetes/client-node';
import { createKubeRest, type KubeRest } from '../../common/kube/rest.ts';
import { WRITER_ANNOTATION } from '../../gm/operators/constants.ts';
import { collectionPath, type KubeObject, RESOURCES, type ResourceType } from '../../gm/operators/resources.ts';

export interface Seen {
  type: string;
  resource: string;
  name: string;
  rv: bigint;
  /** `<replica>/<term>` stamped by the writing replica. */
  writer: string;
}

export interface HolderChange {
  holder: string;
  rv: bigint;
}

export async function recordWrites(kc: KubeConfig, ns: string, leaseName: string, signal: AbortSignal) {
  const rest: KubeRest = await createKubeRest(kc);
  const writes: Seen[] = [];
  const holders: HolderChange[] = [];
  const opened: Promise<void>[] = [];

  function follow(path: string, query: Record<string, string>, on: (type: string, o: KubeObject) => void) {
    let resolveOpen: () => void = () => {};
    opened.push(new Promise<void>((r) => (resolveOpen = r)));
    void (async () => {
      let rv = (await rest.request<{ metadata: { resourceVersion: string } }>('GET', path, { query })).metadata
        .resourceVersion;
      while (!signal.aborted) {
        try {
          for await (const ev of rest.watch<KubeObject>(path, {
            query: { ...query, resourceVersion: rv },
            signal,
            onOpen: resolveOpen,
          })) {
            if (ev.type === 'ERROR' || ev.type === 'BOOKMARK') continue;
            rv = ev.object.metadata.resourceVersion ?? rv;
            on(ev.type, ev.object);
          }
        } catch {
          if (!signal.aborted) await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();
  }

  const children: ResourceType[] = [RESOURCES.Deployment, RESOURCES.Service, RESOURCES.Pod];
  for (const r of children) {
    follow(collectionPath(r, ns), {}, (type, o) => {
      if (type === 'DELETED') return;
      writes.push({
        type,
        resource: r.plural,
        name: o.metadata.name,
        rv: BigInt(o.metadata.resourceVersion ?? '0'),
        writer: o.metadata.annotations?.[WRITER_ANNOTATION] ?? '',
      });
    });
  }
  follow(
    `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
    { fieldSelector: `metadata.name=${leaseName}` },
    (_type, o) => {
      const holder = (o as unknown as { spec?: { holderIdentity?: string } }).spec?.holderIdentity ?? '';
      if (holders.at(-1)?.holder !== holder) holders.push({ holder, rv: BigInt(o.metadata.resourceVersion ?? '0') });
    },
  );
  await Promise.all(opened);
  signal.addEventListener('abort', () => rest.close(), { once: true });
  return {
    writes,
    holders,
    /** resourceVersion of the first Lease write that made `holder` the holder (after `afterRv`). */
    acquiredAt(holder: string, afterRv = 0n): bigint | undefined {
      return holders.find((h) => h.holder === holder && h.rv > afterRv)?.rv;
    },
  };
}
