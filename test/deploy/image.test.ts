/**
 * The image builds from deploy/image/Dockerfile with no registry (local Debian bases, buildah) and
 * its CLI runs inside it as a non-root user; the arm64 image builds too (no emulation: its runtime
 * stage only copies) and carries an arm64 Node. Skipped, with the reason, without root, buildah or
 * mmdebstrap. Cold (no cached bases or layers) ≈ 3 min on 2 cores, warm ≈ 10 s.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { buildah, buildImage, HOST_ARCH, missing, pinnedNode, prune, readFromImage, runImage } from './image.ts';

const skip = await missing();
if (skip) console.log(`# image test skipped: ${skip}`);
else after(() => prune());

/** ELF e_machine: 0x3e x86-64, 0xb7 AArch64. */
const machine = (elf: Buffer) => (elf.subarray(0, 4).toString('latin1') === '\x7fELF' ? elf.readUInt16LE(18) : -1);

test('the image builds without a registry and runs fedmesh --help and fedmesh gm --help as non-root', {
  skip,
}, async () => {
  const image = await buildImage(HOST_ARCH);
  const help = await runImage(image, ['--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^fedmesh — /);
  assert.match(help.stdout, /\n {2}gm {2,}/);
  const gm = await runImage(image, ['gm', '--help']);
  assert.equal(gm.code, 0, gm.stderr);
  assert.match(gm.stdout, /^fedmesh gm — /);
  assert.match(gm.stdout, /--lease-namespace/);
  const version = await runImage(image, ['--no-such-flag']);
  assert.equal(version.code, 2, 'an unknown flag exits 2 inside the image as outside');
  const cfg = JSON.parse(await buildah(['inspect', '--type', 'image', image])) as {
    OCIv1: { config: { User?: string; Entrypoint?: string[] }; architecture: string };
  };
  assert.equal(cfg.OCIv1.config.User, '65532:65532');
  assert.deepEqual(cfg.OCIv1.config.Entrypoint, ['/usr/local/bin/node', '/opt/fedmesh/cli/fedmesh.ts']);
  assert.equal(cfg.OCIv1.architecture, HOST_ARCH);
  const node = await runImage(image, ['/usr/local/bin/node', '--version'], true);
  assert.equal(node.stdout.trim(), `v${pinnedNode()}`, 'the pinned Node 24');
  const shipped = await runImage(
    image,
    ['find', '/opt/fedmesh', '-path', '*/node_modules', '-prune', '-o', '-type', 'f', '-print'],
    true,
  );
  assert.equal(shipped.code, 0);
  const files = shipped.stdout.split('\n').filter(Boolean);
  assert.ok(files.includes('/opt/fedmesh/cli/fedmesh.ts'));
  assert.deepEqual(
    files.filter((f) => /\.test\.ts$|\/testing(\.ts|\/)/.test(f)),
    [],
    'no tests shipped',
  );
  const writable = await runImage(image, ['sh', '-c', 'touch /opt/fedmesh/x 2>/dev/null && echo yes || echo no'], true);
  assert.equal(writable.stdout.trim(), 'no', 'the code is read-only for the process');
});

test('the arm64 image builds on this machine and carries an arm64 Node', { skip }, async () => {
  const other = HOST_ARCH === 'amd64' ? 'arm64' : 'amd64';
  const image = await buildImage(other);
  const cfg = JSON.parse(await buildah(['inspect', '--type', 'image', image])) as { OCIv1: { architecture: string } };
  assert.equal(cfg.OCIv1.architecture, other);
  assert.equal(machine(await readFromImage(image, 'usr/local/bin/node', 20)), other === 'arm64' ? 0xb7 : 0x3e);
});
