/**
 * No deprecation warnings at start-up: a real `fedmesh gm` process prints none, and building each
 * component's HTTP server (gm, lc, mesh) emits no process warning of a deprecation kind (Node's
 * DeprecationWarning, fastify's FSTDEP codes).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../common/log.ts';
import { createRegistry } from '../../common/metrics.ts';
import { buildHttpServer } from '../../gm/http.ts';
import { buildLcServer } from '../../lc/http.ts';
import { buildMeshServer } from '../../mesh/http.ts';
import { useEnvtest } from '../envtest/index.ts';
import { startReplica } from './replicas.ts';

const env = useEnvtest();

const DEPRECATION = /DeprecationWarning|FastifyDeprecation|\bFSTDEP\d+|\bDEP\d{4}\b/;
const isDeprecation = (w: Error & { code?: string }) =>
  w.name === 'DeprecationWarning' || /Deprecation/.test(w.name) || DEPRECATION.test(String(w.code ?? ''));

/** Runs `build` and collects the process warnings it causes (warnings are emitted on a later tick). */
async function warningsOf(build: () => Promise<unknown>): Promise<Array<Error & { code?: string }>> {
  const seen: Array<Error & { code?: string }> = [];
  const on = (w: Error) => seen.push(w);
  process.on('warning', on);
  try {
    await build();
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', on);
  }
  return seen;
}

test('building the gm, lc and mesh HTTP servers emits no deprecation warning', async () => {
  const log = createLogger({ component: 'test', level: 'silent' });
  const registry = createRegistry();
  const builders: Record<string, () => { ready(): PromiseLike<unknown>; close(): PromiseLike<unknown> }> = {
    gm: () => buildHttpServer({ readyz: [], livez: [], replicaId: 'a' }, { registry, log }),
    // Request-time components are never called here: building and readying the server is the point.
    lc: () =>
      buildLcServer({ readyz: [], livez: [] }, { registry, log } as unknown as Parameters<typeof buildLcServer>[1]),
    mesh: () =>
      buildMeshServer({
        registry,
        log,
        ready: () => true,
        node: {} as Parameters<typeof buildMeshServer>[0]['node'],
      }),
  };
  for (const [name, build] of Object.entries(builders)) {
    const warnings = await warningsOf(async () => {
      const app = build();
      await app.ready();
      await app.close();
    });
    const deprecations = warnings.filter(isDeprecation);
    assert.deepEqual(
      deprecations.map((w) => `${w.name} ${w.code ?? ''}: ${w.message}`),
      [],
      `${name}: deprecation warnings while building the HTTP server`,
    );
  }
});

test('a fedmesh gm process prints no deprecation warning while it starts and leads', async (t) => {
  const namespace = await env.namespace(t);
  const logFile = join(env.plane.dir, `gm-warnings-${namespace}.log`);
  const replica = await startReplica(env.plane, { id: 'a', namespace, logFile });
  t.after(() => replica.proc.stop('SIGKILL'));
  const deadline = performance.now() + 30_000;
  while ((await replica.readyz()) !== 200) {
    assert.ok(performance.now() < deadline, 'the replica leads within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  await replica.proc.stop('SIGTERM');
  const lines = readFileSync(logFile, 'utf8').split('\n');
  assert.ok(
    lines.some((l) => l.includes('"gm started"')),
    'the log is the process output',
  );
  assert.deepEqual(
    lines.filter((l) => DEPRECATION.test(l)),
    [],
  );
});
