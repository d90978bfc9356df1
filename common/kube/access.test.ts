import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { accessFromFile, headerSource, inClusterAccess, loadClusterAccess } from './access.ts';

function tempDir(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-access-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

test('a kubeconfig file resolves (in a child process) to its current context', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'kubeconfig');
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: other',
      '  cluster: {server: "https://198.18.0.9:6443", insecure-skip-tls-verify: true}',
      '- name: c',
      `  cluster: {server: "https://198.18.0.1:6443", certificate-authority-data: "${Buffer.from(CA).toString('base64')}"}`,
      'users:',
      '- name: u',
      '  user: {token: "s3cret"}',
      'contexts:',
      '- name: x',
      '  context: {cluster: c, user: u}',
      'current-context: x',
    ].join('\n'),
  );
  const a = accessFromFile(path);
  assert.equal(a.server, 'https://198.18.0.1:6443');
  assert.equal(a.ca, CA);
  assert.equal(headerSource(a)().Authorization ?? headerSource(a)().authorization, 'Bearer s3cret');
  assert.notEqual(a.rejectUnauthorized, false);
});

test('missing or malformed kubeconfigs are ConfigErrors naming the file', (t) => {
  const dir = tempDir(t);
  assert.throws(() => accessFromFile(join(dir, 'nope')), { code: 'ERR_CONFIG' });
  const bad = join(dir, 'bad');
  writeFileSync(bad, 'clusters: [ {');
  assert.throws(
    () => accessFromFile(bad),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_CONFIG');
      assert.ok(err.message.includes(bad));
      return true;
    },
  );
});

test('in-cluster: server from the environment, the CA, and a token re-read as it rotates', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'ca.crt'), CA);
  writeFileSync(join(dir, 'token'), 'one\n');
  const env = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  t.after(() => {
    for (const [k, v] of [
      ['KUBERNETES_SERVICE_HOST', env.host],
      ['KUBERNETES_SERVICE_PORT', env.port],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  process.env.KUBERNETES_SERVICE_HOST = 'fd00::1';
  process.env.KUBERNETES_SERVICE_PORT = '6443';
  const a = inClusterAccess(dir);
  assert.equal(a.server, 'https://[fd00::1]:6443');
  assert.equal(a.ca, CA);
  const headers = headerSource(a);
  assert.equal(headers().authorization, 'Bearer one');
  writeFileSync(join(dir, 'token'), 'two\n');
  // Re-read at most once a minute: still the old token right after the rotation.
  assert.equal(headers().authorization, 'Bearer one');
  assert.equal(headerSource(a, 0)().authorization, 'Bearer two');
});

test('nothing configured is a ConfigError', (t) => {
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, kc: process.env.KUBECONFIG };
  t.after(() => {
    if (saved.host !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.host;
    if (saved.kc !== undefined) process.env.KUBECONFIG = saved.kc;
  });
  delete process.env.KUBERNETES_SERVICE_HOST;
  delete process.env.KUBECONFIG;
  assert.throws(() => loadClusterAccess(), { code: 'ERR_CONFIG' });
});
