/**
 * The REST client's beforeSend hook against a real API server: the check runs when the bytes can
 * leave (after a new connection's TLS handshake), and a refusal sends nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKubeRest, isStatus } from '../../common/kube/rest.ts';
import { useEnvtest } from '../envtest/index.ts';

const env = useEnvtest();

class Refused extends Error {
  code = 'ERR_REFUSED';
}

async function exists(rest: Awaited<ReturnType<typeof createKubeRest>>, ns: string, name: string) {
  try {
    await rest.request('GET', `/api/v1/namespaces/${ns}/configmaps/${name}`);
    return true;
  } catch (err) {
    if (isStatus(err, 404)) return false;
    throw err;
  }
}

test('beforeSend: asked once the connection is up; a refusal then sends nothing', async (t) => {
  const ns = await env.namespace(t);
  const admin = await createKubeRest(env.kubeConfig());
  t.after(() => admin.close());
  const post = (rest: typeof admin, name: string, beforeSend: () => void) =>
    rest.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { metadata: { name } }, beforeSend });

  // A fresh client: the request waits for TCP + TLS. Permission withdrawn meanwhile (as when a
  // paused leader resumes mid-handshake) must stop it, although it was granted when it started.
  const fresh = await createKubeRest(env.kubeConfig());
  t.after(() => fresh.close());
  let allowed = true;
  let asked = 0;
  const pending = post(fresh, 'late', () => {
    asked++;
    if (!allowed) throw new Refused('fenced');
  });
  // After the request got its (still connecting) socket, before the TLS handshake's round trips end.
  setImmediate(() => {
    allowed = false;
  });
  await assert.rejects(pending, { code: 'ERR_REFUSED' });
  assert.equal(asked, 1);
  assert.equal(await exists(admin, ns, 'late'), false, 'nothing reached the API server');

  // A kept-alive connection: asked right before sending; yes → written, no → nothing.
  await post(admin, 'warm', () => {});
  let calls = 0;
  await post(admin, 'ok', () => {
    calls++;
  });
  assert.equal(calls, 1);
  assert.equal(await exists(admin, ns, 'ok'), true);
  await assert.rejects(
    post(admin, 'refused', () => {
      throw new Refused('fenced');
    }),
    { code: 'ERR_REFUSED' },
  );
  assert.equal(await exists(admin, ns, 'refused'), false);
  // The client keeps working after a refusal.
  await post(admin, 'after', () => {});
  assert.equal(await exists(admin, ns, 'after'), true);
});
