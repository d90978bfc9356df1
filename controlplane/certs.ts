import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PrerequisiteError } from '../common/errors.ts';

const run = promisify(execFile);

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as { code?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new PrerequisiteError('the envtest control plane needs the openssl command');
    throw new PrerequisiteError(`openssl ${args[0]} failed: ${e.stderr ?? ''}`, { cause: err });
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA in `dir/ca.crt` + `dir/ca.key`. */
export async function createCA(dir: string): Promise<void> {
  await openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '3650',
      '-subj',
      '/CN=fedmesh-envtest-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
}

/** Signs a leaf certificate `dir/NAME.crt` + `dir/NAME.key` with the CA in `dir`. */
export async function issueCert(
  dir: string,
  name: string,
  subject: { cn: string; orgs?: string[] },
  usage: { server?: { ips: string[]; dns: string[] }; client?: boolean },
): Promise<{ cert: string; key: string }> {
  const subj = `/CN=${subject.cn}${(subject.orgs ?? []).map((o) => `/O=${o}`).join('')}`;
  const ext: string[] = [
    '-addext',
    'basicConstraints=critical,CA:FALSE',
    '-addext',
    'keyUsage=critical,digitalSignature',
  ];
  if (usage.server) {
    const san = [...usage.server.ips.map((i) => `IP:${i}`), ...usage.server.dns.map((d) => `DNS:${d}`)].join(',');
    ext.push('-addext', `subjectAltName=${san}`, '-addext', 'extendedKeyUsage=serverAuth');
  } else {
    ext.push('-addext', 'extendedKeyUsage=clientAuth');
  }
  await openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj, ...ext], dir);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '3650',
      '-copy_extensions',
      'copyall',
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** The ServiceAccount token signing key pair (`sa.key` private, `sa.pub` public), ES256. */
export function createServiceAccountKeys(dir: string): { key: string; pub: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = join(dir, 'sa.key');
  const pub = join(dir, 'sa.pub');
  writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { key, pub };
}
