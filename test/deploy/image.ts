/**
 * Builds deploy/image/Dockerfile with no container registry: the bases are made here and cached.
 *
 * - Runtime base: a Debian bookworm root file system from Debian's package archive (mmdebstrap:
 *   the native one `essential` + libstdc++6, maintainer scripts run; a foreign one `extract` of
 *   libc6, libstdc++6 and libgcc-s1, no scripts, so no emulation), cached as a tarball under
 *   ~/.cache/fedmesh/image/ and imported into buildah's store once.
 * - Builder (the Dockerfile's BUILDER, on the build machine's platform): that base plus the
 *   project's pinned Node 24 binary (node_modules/node, the `node` devDependency), npm from the npm
 *   registry's own tarball, and the CA bundle this machine trusts for the registry.
 *
 * buildah runs with chroot isolation (no OCI runtime, no cgroups needed) and the host network (the
 * build stage runs `npm ci` and `npm pack` against the registry). Layers are cached (`--layers`);
 * `buildah rmi --all` and removing ~/.cache/fedmesh/image/ make the next run cold.
 */
import { execFile } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cacheRoot } from '../../common/gobuild.ts';

const run = promisify(execFile);
export const ROOT = new URL('../..', import.meta.url).pathname;
export const CACHE = join(cacheRoot(), 'image');
export const SUITE = 'bookworm';
const MIRROR = 'http://deb.debian.org/debian';
/** npm for the builder image (Node 24's own major). */
export const NPM_VERSION = '11.19.1';
export type Arch = 'amd64' | 'arm64';
export const HOST_ARCH: Arch = process.arch === 'arm64' ? 'arm64' : 'amd64';

/** The pinned Node version: package.json's `node` devDependency. */
export function pinnedNode(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  return pkg.devDependencies.node ?? '';
}

async function onPath(cmd: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${cmd}`], {
      env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` },
    });
    return true;
  } catch {
    return false;
  }
}

/** Why the image test cannot run here, or undefined. */
export async function missing(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (buildah and mmdebstrap in root mode)';
  const tools = [];
  for (const cmd of ['buildah', 'mmdebstrap']) if (!(await onPath(cmd))) tools.push(cmd);
  if (tools.length) return `${tools.join(' and ')} not installed (Debian packages; scripts/setup.sh installs them)`;
  if (!existsSync(join(ROOT, 'node_modules/node/bin/node'))) return 'node_modules/node missing (npm ci)';
  return undefined;
}

async function exists(image: string): Promise<boolean> {
  try {
    await run('buildah', ['inspect', '--type', 'image', image]);
    return true;
  } catch {
    return false;
  }
}

/** Runs buildah, its output kept for an error message. */
export async function buildah(args: string[], timeoutMs = 600_000): Promise<string> {
  try {
    const { stdout } = await run('buildah', args, { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`buildah ${args.join(' ')}: ${e.message}\n${(e.stderr ?? '').slice(-4000)}`);
  }
}

/** The Debian root file system tarball of `arch`, made once (cold: about 40 s native). */
export async function rootfs(arch: Arch): Promise<string> {
  const tar = join(CACHE, `debian-${SUITE}-${arch}.tar`);
  if (existsSync(tar)) return tar;
  mkdirSync(CACHE, { recursive: true });
  const slim = ['man', 'doc', 'locale', 'info'].map((d) => `--dpkgopt=path-exclude=/usr/share/${d}/*`);
  const variant =
    arch === HOST_ARCH
      ? ['--variant=essential', '--include=libstdc++6']
      : ['--variant=extract', '--include=libc6,libstdc++6,libgcc-s1'];
  const tmp = `${tar}.${process.pid}.tmp`;
  await run('mmdebstrap', ['--mode=root', `--arch=${arch}`, ...variant, ...slim, SUITE, tmp, MIRROR], {
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  renameSync(tmp, tar);
  return tar;
}

/** `localhost/fedmesh-test-base:<suite>-<arch>` in buildah's store. */
export async function base(arch: Arch): Promise<string> {
  const image = `localhost/fedmesh-test-base:${SUITE}-${arch}`;
  if (await exists(image)) return image;
  const tar = await rootfs(arch);
  const ctr = (await buildah(['from', '--arch', arch, 'scratch'])).trim();
  try {
    await buildah(['add', '--quiet', ctr, tar, '/']);
    await buildah(['config', '--arch', arch, '--os', 'linux', '--cmd', '/bin/sh', ctr]);
    await buildah(['commit', '--quiet', ctr, image]);
  } finally {
    await buildah(['rm', ctr]).catch(() => {});
  }
  return image;
}

/** The CA bundle this machine trusts for the npm registry (a proxy may re-sign it). */
function caBundle(): string | undefined {
  for (const f of [process.env.NODE_EXTRA_CA_CERTS, process.env.SSL_CERT_FILE, '/etc/ssl/certs/ca-certificates.crt']) {
    if (f && existsSync(f)) return f;
  }
  return undefined;
}

/** The builder image: the native base, Node from node_modules/node, npm, this machine's CAs. */
export async function builder(): Promise<string> {
  const image = `localhost/fedmesh-test-builder:node${pinnedNode()}-npm${NPM_VERSION}`;
  if (await exists(image)) return image;
  const from = await base(HOST_ARCH);
  const npmTgz = join(CACHE, `npm-${NPM_VERSION}.tgz`);
  if (!existsSync(npmTgz)) await run('npm', ['pack', '--silent', `npm@${NPM_VERSION}`], { cwd: CACHE });
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-builder-'));
  try {
    const lib = join(dir, 'usr/local/lib/node_modules/npm');
    mkdirSync(lib, { recursive: true });
    mkdirSync(join(dir, 'usr/local/bin'), { recursive: true });
    await run('tar', ['-xzf', npmTgz, '-C', lib, '--strip-components=1']);
    copyFileSync(join(ROOT, 'node_modules/node/bin/node'), join(dir, 'usr/local/bin/node'));
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(dir, 'usr/local/bin/npm'));
    const env = ['npm_config_update_notifier=false', 'npm_config_fund=false', 'npm_config_audit=false'];
    const ca = caBundle();
    if (ca) {
      mkdirSync(join(dir, 'etc/fedmesh-builder'), { recursive: true });
      copyFileSync(ca, join(dir, 'etc/fedmesh-builder/ca.crt'));
      env.push('NODE_EXTRA_CA_CERTS=/etc/fedmesh-builder/ca.crt', 'npm_config_cafile=/etc/fedmesh-builder/ca.crt');
    }
    const ctr = (await buildah(['from', '--pull=never', from])).trim();
    try {
      await buildah(['copy', '--quiet', ctr, dir, '/']);
      await buildah(['config', ...env.flatMap((e) => ['--env', e]), ctr]);
      await buildah(['commit', '--quiet', ctr, image]);
    } finally {
      await buildah(['rm', ctr]).catch(() => {});
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return image;
}

/**
 * Builds the image for `arch` from the local bases; returns its name. The build stage is built
 * and tagged first (cached, about 3 s): a tag keeps its layers — `npm ci` above all — out of
 * `prune()`, which would otherwise take the stage's untagged chain with the old ones.
 */
export async function buildImage(arch: Arch): Promise<string> {
  const tag = `localhost/fedmesh:test-${arch}`;
  await bud(arch, ['--target', 'build', '-t', `localhost/fedmesh-test-stage:build-${arch}`]);
  await bud(arch, ['-t', tag]);
  return tag;
}

/** Removes untagged images: earlier builds' layers, so the store does not grow with each change. */
export async function prune(): Promise<void> {
  await buildah(['rmi', '--prune']);
}

async function bud(arch: Arch, extra: string[]): Promise<void> {
  await buildah(
    [
      'bud',
      '--isolation=chroot',
      '--network=host',
      '--layers',
      '--pull=never',
      // Not --platform: Debian's buildah (1.28) then looks the local builder up for the target
      // platform too, ignoring FROM --platform=$BUILDPLATFORM. The target architecture as a build
      // argument drives the same Dockerfile path, and the image takes its base's architecture.
      '--build-arg',
      `TARGETARCH=${arch}`,
      '--build-arg',
      `TARGETPLATFORM=linux/${arch}`,
      '-f',
      join(ROOT, 'deploy/image/Dockerfile'),
      '--build-arg',
      `BASE=${await base(arch)}`,
      '--build-arg',
      `BUILDER=${await builder()}`,
      '--build-arg',
      `NODE_VERSION=${pinnedNode()}`,
      ...extra,
      ROOT,
    ],
    900_000,
  );
}

/**
 * Runs the image's entrypoint with `args` (chroot isolation: the host's network), as the image's user;
 * `raw`: `args` is the whole command instead.
 */
export async function runImage(
  image: string,
  args: string[],
  raw = false,
): Promise<{ stdout: string; stderr: string; code: number }> {
  const ctr = (await buildah(['from', '--pull=never', image])).trim();
  try {
    const cfg = JSON.parse(await buildah(['inspect', '--type', 'container', ctr])) as {
      OCIv1: { config: { Entrypoint?: string[]; User?: string } };
    };
    const entry = raw ? [] : (cfg.OCIv1.config.Entrypoint ?? []);
    try {
      const { stdout } = await run(
        'buildah',
        ['run', '--isolation=chroot', '--user', cfg.OCIv1.config.User || '0', ctr, '--', ...entry, ...args],
        { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      );
      return { stdout, stderr: '', code: 0 };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; code?: number };
      return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
    }
  } finally {
    await buildah(['rm', ctr]).catch(() => {});
  }
}

/** The file at `path` inside `image`, read through a mount. */
export async function readFromImage(image: string, path: string, bytes: number): Promise<Buffer> {
  const ctr = (await buildah(['from', '--pull=never', image])).trim();
  try {
    const mnt = (await buildah(['mount', ctr])).trim();
    const fd = openSync(join(mnt, path), 'r');
    try {
      const buf = Buffer.alloc(bytes);
      return buf.subarray(0, readSync(fd, buf, 0, bytes, 0));
    } finally {
      closeSync(fd);
    }
  } finally {
    await buildah(['umount', ctr]).catch(() => {});
    await buildah(['rm', ctr]).catch(() => {});
  }
}
