import type { KubeConfig } from '@kubernetes/client-node';
import { sleep } from '../common/async.ts';
import { DeadlineError } from '../common/errors.ts';
import { createKubeRest, isStatus } from '../common/kube/rest.ts';
import { GROUP, VERSION } from './constants.ts';
import { crdJson } from './crd.ts';
import { KINDS } from './kinds.ts';

/**
 * Creates (or server-side applies) the six CRDs and waits until each is Established *and served*:
 * right after Established the API answers 404, then 429 "storage is (re)initializing", for a
 * moment; a list that succeeds ends both.
 */
export async function installCrds(kc: KubeConfig, opts: { timeoutMs?: number } = {}): Promise<void> {
  const rest = await createKubeRest(kc);
  const signal = AbortSignal.timeout(opts.timeoutMs ?? 60_000);
  try {
    for (const k of KINDS) {
      const name = `${k.plural}.${GROUP}`;
      await rest.request('PATCH', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`, {
        body: crdJson(k.kind),
        contentType: 'application/apply-patch+yaml',
        query: { fieldManager: 'fedmesh', force: true },
        signal,
      });
    }
    for (const k of KINDS) {
      for (;;) {
        const ok = await rest
          .request('GET', `/apis/${GROUP}/${VERSION}/${k.plural}`, { query: { limit: 1 }, signal })
          .then(() => true)
          .catch((err: unknown) => {
            if (isStatus(err, 404) || isStatus(err, 429)) return false;
            throw err;
          });
        if (ok) break;
        if (signal.aborted) throw new DeadlineError(`${k.plural}.${GROUP} not served in time`);
        await sleep(100, signal);
      }
    }
  } finally {
    rest.close();
  }
}
