/**
 * Leader failover, 2 s / 1.5 s / 0.5 s, over ROUNDS rounds each of SIGKILL and SIGTERM, for:
 *   - fedmesh's elector (watch-driven takeover),
 *   - the same elector in poll-only mode (behaves like client-go: acquire on the jittered poll),
 *   - real client-go v0.34 tools/leaderelection (the reference, built with the envtest binaries).
 * Three participants per run; the killed one is replaced before the next round. Failover time is
 * from the signal to the moment a watcher sees a new holder on the Lease.
 *   npm run bench -- election [ROUNDS]
 */
import { randomBytes } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import { sleep } from '../common/async.ts';
import { type ControlPlane, startControlPlane } from '../controlplane/index.ts';
import { startClientGo } from '../test/gm/clientgo.ts';
import { startReplica, watchHolder } from '../test/gm/replicas.ts';
import { quantile, round } from './stats.ts';

interface Participant {
  id: string;
  kill(sig: NodeJS.Signals): void;
  exited: Promise<unknown>;
}

type Kind = 'fedmesh' | 'pollonly' | 'clientgo';

async function startParticipant(plane: ControlPlane, kind: Kind, namespace: string, id: string): Promise<Participant> {
  if (kind === 'clientgo') {
    const p = await startClientGo(plane, { namespace, id });
    return { id, kill: (s) => p.signal(s), exited: p.exited };
  }
  const r = await startReplica(plane, { id, namespace, pollOnly: kind === 'pollonly', logFile: '/dev/null' });
  return { id, kill: (s) => r.proc.signal(s), exited: r.proc.exited };
}

async function measure(plane: ControlPlane, kind: Kind, rounds: number): Promise<Record<string, number[]>> {
  const namespace = `bench-${kind}-${randomBytes(3).toString('hex')}`;
  await plane
    .kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name: namespace } } });
  const ac = new AbortController();
  const holder = await watchHolder(plane, namespace, 'gm', ac.signal);
  let n = 0;
  const next = () => startParticipant(plane, kind, namespace, `${kind}-${n++}`);
  const live: Participant[] = await Promise.all([next(), next(), next()]);
  const out: Record<string, number[]> = { crash: [], graceful: [] };
  try {
    await holder.until((h) => h !== '', 15_000);
    for (const mode of ['crash', 'graceful'] as const) {
      for (let i = 0; i < rounds; i++) {
        await sleep(700 + Math.random() * 500); // random phase against the renew cycle
        const leaderId = holder.current();
        const leader = live.find((p) => p.id === leaderId);
        if (!leader) throw new Error(`no live participant holds the lease (${leaderId})`);
        const t0 = performance.now();
        leader.kill(mode === 'crash' ? 'SIGKILL' : 'SIGTERM');
        const next2 = await holder.until((h) => h !== '' && h !== leaderId, 15_000, t0);
        out[mode]?.push((next2.at - t0) / 1000);
        await leader.exited;
        live.splice(live.indexOf(leader), 1, await next());
        process.stderr.write(`${kind} ${mode} ${i + 1}/${rounds}: ${round((next2.at - t0) / 1000)} s\n`);
      }
    }
  } finally {
    for (const p of live) p.kill('SIGKILL');
    await Promise.all(live.map((p) => p.exited));
    ac.abort();
  }
  return out;
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const rounds = Number(args[0] ?? 20);
  const plane = await startControlPlane({ log: (m) => process.stderr.write(`${m}\n`) });
  const figures: Record<string, unknown> = { rounds, lease_duration_s: 2, renew_deadline_s: 1.5, retry_period_s: 0.5 };
  try {
    for (const [kind, prefix] of [
      ['fedmesh', ''],
      ['pollonly', 'baseline_'],
      ['clientgo', 'clientgo_'],
    ] as const) {
      const r = await measure(plane, kind, rounds);
      for (const mode of ['graceful', 'crash'] as const) {
        const s = r[mode] ?? [];
        figures[`${prefix}${mode}_p50_s`] = round(quantile(s, 0.5));
        figures[`${prefix}${mode}_p99_s`] = round(quantile(s, 0.99));
        figures[`${prefix}${mode}_max_s`] = round(Math.max(...s));
      }
    }
  } finally {
    await plane.stop();
  }
  return figures;
}
