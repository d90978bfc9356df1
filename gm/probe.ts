import { sleep } from '../common/async.ts';
import { isStatus, type KubeRest } from '../common/kube/rest.ts';
import type { Logger } from '../common/log.ts';
import type { FencingGuard } from './election/index.ts';

export interface FencingProbeInit {
  namespace: string;
  /** ConfigMap the leader writes to. */
  name: string;
  identity: string;
  intervalMs: number;
}

/**
 * A diagnostic leader-only runnable: every interval it writes `{holder, seq}` to a ConfigMap
 * through the fencing guard. Watching that ConfigMap shows from the API's side which replica
 * passed the guard when — the tests use it to prove that two replicas never do at once.
 */
export function createFencingProbe(
  init: FencingProbeInit,
  components: { rest: KubeRest; guard: FencingGuard; log: Logger },
) {
  const { rest, guard } = components;
  const log = components.log.child({ component: 'gm.probe' });
  const path = `/api/v1/namespaces/${encodeURIComponent(init.namespace)}/configmaps`;
  let seq = 0;
  async function write(): Promise<void> {
    seq++;
    const data = { holder: init.identity, seq: String(seq) };
    await guard.write(async (signal) => {
      try {
        await rest.request('PATCH', `${path}/${encodeURIComponent(init.name)}`, {
          body: { data },
          contentType: 'application/merge-patch+json',
          signal,
          beforeSend: guard.check,
        });
      } catch (err) {
        if (!isStatus(err, 404)) throw err;
        await rest.request('POST', path, {
          body: { metadata: { name: init.name }, data },
          signal,
          beforeSend: guard.check,
        });
      }
    });
  }
  return {
    needsLeaderElection: true as const,
    async start(signal: AbortSignal): Promise<void> {
      while (!signal.aborted) {
        try {
          await write();
        } catch (err) {
          if (!signal.aborted) log.warn({ err }, 'fencing probe write failed');
        }
        await sleep(init.intervalMs, signal);
      }
    },
  };
}
